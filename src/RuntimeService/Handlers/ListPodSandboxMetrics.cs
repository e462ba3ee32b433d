using Berth.Core.Cri;
using Berth.RuntimeService.Pods;
using Berth.RuntimeService.Stats;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.ListPodSandboxMetricsResponse> ListPodSandboxMetrics(Cri.ListPodSandboxMetricsRequest request, ServerCallContext context)
    {
        var response = new Cri.ListPodSandboxMetricsResponse();
        response.PodMetrics.AddRange(FilterSandboxes(null).Select(PodMetricsOf));
        return Task.FromResult(response);
    }

    public override async Task StreamPodSandboxMetrics(Cri.StreamPodSandboxMetricsRequest request, IServerStreamWriter<Cri.StreamPodSandboxMetricsResponse> responseStream, ServerCallContext context)
    {
        await ChunkedStream.WriteAsync(FilterSandboxes(null).Select(PodMetricsOf),
            chunk => new Cri.StreamPodSandboxMetricsResponse { PodSandboxMetrics = { chunk } }, responseStream, context.CancellationToken);
    }

    private Cri.PodSandboxMetrics PodMetricsOf(Sandbox sandbox) => CadvisorMetrics.Pod(sandbox, stats.Of(sandbox).Latest,
        registry.ContainersOf(sandbox.Id).OrderBy(container => container.Record.CreatedAt).Select(container => (container, stats.Of(container).Latest)));
}
