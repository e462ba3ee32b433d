using Berth.Core.Cri;
using Berth.RuntimeService.Pods;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.ListPodSandboxStatsResponse> ListPodSandboxStats(Cri.ListPodSandboxStatsRequest request, ServerCallContext context)
    {
        var response = new Cri.ListPodSandboxStatsResponse();
        response.Stats.AddRange(FilterStatsSandboxes(request.Filter).Select(PodStatsOf));
        return Task.FromResult(response);
    }

    public override async Task StreamPodSandboxStats(Cri.StreamPodSandboxStatsRequest request, IServerStreamWriter<Cri.StreamPodSandboxStatsResponse> responseStream, ServerCallContext context)
    {
        await ChunkedStream.WriteAsync(FilterStatsSandboxes(request.Filter).Select(PodStatsOf),
            chunk => new Cri.StreamPodSandboxStatsResponse { PodSandboxStats = { chunk } }, responseStream, context.CancellationToken);
    }

    /// <summary>Pods by ID prefix and labels, as ListPodSandbox filters them.</summary>
    private IEnumerable<Sandbox> FilterStatsSandboxes(Cri.PodSandboxStatsFilter? filter) => FilterSandboxes(filter is null ? null : new Cri.PodSandboxFilter
    {
        Id = filter.Id,
        LabelSelector = { filter.LabelSelector },
    });
}
