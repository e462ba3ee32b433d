using Berth.RuntimeService.Pods;
using Berth.RuntimeService.Stats;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.PodSandboxStatsResponse> PodSandboxStats(Cri.PodSandboxStatsRequest request, ServerCallContext context)
    {
        var sandbox = registry.RequireSandbox(request.PodSandboxId);
        return Task.FromResult(new Cri.PodSandboxStatsResponse { Stats = PodStatsOf(sandbox) });
    }

    /// <summary>A pod's stats with those of its containers, all from the collector's samples.</summary>
    private Cri.PodSandboxStats PodStatsOf(Sandbox sandbox) =>
        CriStats.Pod(sandbox, stats.Of(sandbox), registry.ContainersOf(sandbox.Id).OrderBy(container => container.Record.CreatedAt).Select(ContainerStatsOf));
}
