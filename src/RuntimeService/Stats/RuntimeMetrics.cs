using System.Diagnostics.Metrics;
using Berth.Api.Shim;
using Berth.Core;
using Berth.RuntimeService.Pods;
using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Stats;

/// <summary>
/// berthd's own gauges on the "Berth" meter, read at each export: containers by CRI state, sandboxes by
/// ready or not, live shims (counted from the shim.pid files of the bundles when the gauge is read, so a
/// node without a metrics reader never pays for it: it was counted on every collector pass before), and
/// how long ago the collector's last pass ended (above the period when sampling falls behind). The pass
/// duration is the histogram <see cref="Telemetry.StatsCollectDuration"/>.
/// </summary>
public static class RuntimeMetrics
{
    private static int _registered;

    /// <summary>Creates the gauges once per process (berthd runs one registry); later calls do nothing.</summary>
    public static void Register(RuntimeRegistry registry, StatsCollector collector, RuntimePaths paths)
    {
        if (Interlocked.Exchange(ref _registered, 1) != 0)
        {
            return;
        }
        Telemetry.Meter.CreateObservableGauge("berth.containers", () => registry.Containers
            .GroupBy(container => container.CriState)
            .Select(group => new Measurement<long>(group.LongCount(), new KeyValuePair<string, object?>("state", CriNames.Of(group.Key)["CONTAINER_".Length..].ToLowerInvariant()))),
            "{container}", "Containers by CRI state (created, running, exited, unknown)");
        Telemetry.Meter.CreateObservableGauge("berth.sandboxes", () => registry.Sandboxes
            .GroupBy(sandbox => sandbox.Ready)
            .Select(group => new Measurement<long>(group.LongCount(), new KeyValuePair<string, object?>("state", group.Key ? "ready" : "notready"))),
            "{sandbox}", "Pod sandboxes by CRI state (ready, notready)");
        Telemetry.Meter.CreateObservableGauge("berth.shims", () => LiveShims(registry, paths),
            "{process}", "Shim processes alive (sandboxes' and containers')");
        Telemetry.Meter.CreateObservableGauge("berth.stats.collect.lag", () => collector.LagSeconds,
            "s", "Time since the stats collector's last pass ended; above the period when sampling falls behind");
    }

    /// <summary>Shim processes alive now, sandboxes' and containers'.</summary>
    public static int LiveShims(RuntimeRegistry registry, RuntimePaths paths) =>
        registry.Containers.Count(container => ShimAlive(paths.ContainerBundle(container.Id)))
        + registry.Sandboxes.Count(sandbox => ShimAlive(paths.SandboxBundle(sandbox.Id)));

    /// <summary>Whether the shim whose bundle is <paramref name="bundle"/> runs: its shim.pid names a live process.</summary>
    private static bool ShimAlive(string bundle)
    {
        try
        {
            return int.TryParse(File.ReadAllText(Path.Combine(bundle, BundleLayout.PidFile)).Trim(), out int pid) && pid > 0
                && Directory.Exists($"/proc/{pid}");
        }
        catch (IOException)
        {
            return false;
        }
    }
}
