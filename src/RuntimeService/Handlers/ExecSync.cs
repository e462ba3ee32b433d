using Google.Protobuf;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override async Task<Cri.ExecSyncResponse> ExecSync(Cri.ExecSyncRequest request, ServerCallContext context)
    {
        var container = registry.RequireContainer(request.ContainerId);
        ExecCommand.Require(request.Cmd);
        var result = await containers.ExecSyncAsync(container, request.Cmd, request.Timeout, context.CancellationToken);
        return new Cri.ExecSyncResponse
        {
            ExitCode = result.ExitCode,
            Stdout = ByteString.CopyFrom(result.Stdout.Span),
            Stderr = ByteString.CopyFrom(result.Stderr.Span),
        };
    }
}
