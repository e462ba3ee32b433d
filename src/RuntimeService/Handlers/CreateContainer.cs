using Berth.Core.Errors;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override async Task<Cri.CreateContainerResponse> CreateContainer(Cri.CreateContainerRequest request, ServerCallContext context)
    {
        var config = request.Config ?? throw BerthException.InvalidArgument("config is required");
        var container = await containers.CreateAsync(request.PodSandboxId, config, DaemonStopping);
        return new Cri.CreateContainerResponse { ContainerId = container.Id };
    }
}
