using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.ExecResponse> Exec(Cri.ExecRequest request, ServerCallContext context)
    {
        ExecCommand.Require(request.Cmd);
        return Task.FromResult(new Cri.ExecResponse { Url = streaming.ExecUrl(request) });
    }
}
