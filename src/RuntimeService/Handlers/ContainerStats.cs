using Berth.RuntimeService.Stats;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.ContainerStatsResponse> ContainerStats(Cri.ContainerStatsRequest request, ServerCallContext context)
    {
        var container = registry.RequireContainer(request.ContainerId);
        return Task.FromResult(new Cri.ContainerStatsResponse { Stats = CriStats.Container(container, stats.Of(container), stats.LayerFilesystem) });
    }
}
