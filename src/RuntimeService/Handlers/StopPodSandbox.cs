using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>Stopping a sandbox that is not there succeeds, as kubelet expects.</summary>
    public override async Task<Cri.StopPodSandboxResponse> StopPodSandbox(Cri.StopPodSandboxRequest request, ServerCallContext context)
    {
        if (registry.FindSandbox(request.PodSandboxId) is { } sandbox)
        {
            await pods.StopAsync(sandbox);
        }
        return new Cri.StopPodSandboxResponse();
    }
}
