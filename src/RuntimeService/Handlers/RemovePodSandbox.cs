using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>Removing a sandbox that is not there succeeds, as kubelet expects.</summary>
    public override async Task<Cri.RemovePodSandboxResponse> RemovePodSandbox(Cri.RemovePodSandboxRequest request, ServerCallContext context)
    {
        if (registry.FindSandbox(request.PodSandboxId) is { } sandbox)
        {
            await pods.RemoveAsync(sandbox);
        }
        return new Cri.RemovePodSandboxResponse();
    }
}
