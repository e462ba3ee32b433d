using Berth.Core.Errors;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override async Task<Cri.RunPodSandboxResponse> RunPodSandbox(Cri.RunPodSandboxRequest request, ServerCallContext context)
    {
        var config = request.Config ?? throw BerthException.InvalidArgument("config is required");
        var sandbox = await sandboxes.RunAsync(config, request.RuntimeHandler, DaemonStopping);
        return new Cri.RunPodSandboxResponse { PodSandboxId = sandbox.Id };
    }
}
