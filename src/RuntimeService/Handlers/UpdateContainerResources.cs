using Berth.Api.Shim;
using Berth.RuntimeService.Specs;
using Grpc.Core;
using ShimStatus = Berth.Api.Shim.Status;
using Status = Grpc.Core.Status;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override async Task<Cri.UpdateContainerResourcesResponse> UpdateContainerResources(Cri.UpdateContainerResourcesRequest request, ServerCallContext context)
    {
        var container = registry.RequireContainer(request.ContainerId);
        if (container.State.Status is not (ShimStatus.Created or ShimStatus.Running) || container.Shim is not { } shim)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"container {container.Id} is {container.CriState}; only a created or running container can be updated"));
        }
        // Devices and block I/O are fixed at creation; the update carries kubelet's CPU and memory settings.
        var resources = ContainerResources.For(request.Linux, [], null) with { Devices = null };
        await shim.UpdateResourcesAsync(resources, context.CancellationToken);
        return new Cri.UpdateContainerResourcesResponse();
    }
}
