using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override async Task<Cri.StartContainerResponse> StartContainer(Cri.StartContainerRequest request, ServerCallContext context)
    {
        await containers.StartAsync(registry.RequireContainer(request.ContainerId), DaemonStopping);
        return new Cri.StartContainerResponse();
    }
}
