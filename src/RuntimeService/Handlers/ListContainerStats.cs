using Berth.Core.Cri;
using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Stats;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.ListContainerStatsResponse> ListContainerStats(Cri.ListContainerStatsRequest request, ServerCallContext context)
    {
        var response = new Cri.ListContainerStatsResponse();
        response.Stats.AddRange(FilterStatsContainers(request.Filter).Select(ContainerStatsOf));
        return Task.FromResult(response);
    }

    public override async Task StreamContainerStats(Cri.StreamContainerStatsRequest request, IServerStreamWriter<Cri.StreamContainerStatsResponse> responseStream, ServerCallContext context)
    {
        await ChunkedStream.WriteAsync(FilterStatsContainers(request.Filter).Select(ContainerStatsOf),
            chunk => new Cri.StreamContainerStatsResponse { ContainerStats = { chunk } }, responseStream, context.CancellationToken);
    }

    private Cri.ContainerStats ContainerStatsOf(Container container) => CriStats.Container(container, stats.Of(container), stats.LayerFilesystem);

    /// <summary>Containers by ID prefix, pod ID prefix and labels, all given ANDed, as ListContainers filters them.</summary>
    private IEnumerable<Container> FilterStatsContainers(Cri.ContainerStatsFilter? filter) => FilterContainers(filter is null ? null : new Cri.ContainerFilter
    {
        Id = filter.Id,
        PodSandboxId = filter.PodSandboxId,
        LabelSelector = { filter.LabelSelector },
    });
}
