using Berth.Core;
using Berth.Core.Errors;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>Stopping a container that is not there succeeds, as kubelet expects.</summary>
    public override async Task<Cri.StopContainerResponse> StopContainer(Cri.StopContainerRequest request, ServerCallContext context)
    {
        if (request.Timeout < 0)
        {
            throw BerthException.InvalidArgument("timeout must not be negative");
        }
        if (registry.FindContainer(request.ContainerId) is { } container)
        {
            await containers.StopAsync(container, CriDurations.FromSeconds(request.Timeout), context.CancellationToken);
        }
        return new Cri.StopContainerResponse();
    }
}
