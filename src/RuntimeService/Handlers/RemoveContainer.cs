using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>Removing a container that is not there succeeds; a running one is killed first, as containerd does.</summary>
    public override async Task<Cri.RemoveContainerResponse> RemoveContainer(Cri.RemoveContainerRequest request, ServerCallContext context)
    {
        if (registry.FindContainer(request.ContainerId) is { } container)
        {
            await containers.RemoveAsync(container);
        }
        return new Cri.RemoveContainerResponse();
    }
}
