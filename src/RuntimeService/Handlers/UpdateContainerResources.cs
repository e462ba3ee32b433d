using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override async Task<Cri.UpdateContainerResourcesResponse> UpdateContainerResources(Cri.UpdateContainerResourcesRequest request, ServerCallContext context)
    {
        await containers.UpdateResourcesAsync(registry.RequireContainer(request.ContainerId), request.Linux, context.CancellationToken);
        return new Cri.UpdateContainerResourcesResponse();
    }
}
