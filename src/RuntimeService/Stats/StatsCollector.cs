using System.Collections.Concurrent;
using System.Diagnostics;
using Berth.Core;
using Berth.ImageService.Images;
using Berth.RuntimeService.Configuration;
using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Node;
using Berth.RuntimeService.Pods;
using Berth.RuntimeService.Runtime;
using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Stats;

/// <summary>
/// Samples every container's and pod's usage on a period (config statsCollectPeriodSeconds, 10 s by
/// default, containerd's stats_collect_period) and keeps the last two samples of each, so that
/// List*Stats over hundreds of containers answers from memory and never waits on a shim: berthd reads
/// the cgroup files, writable layers and pod netns counters itself (the shims have no stats request,
/// on purpose: fanning out to every shim per call is what containerd #7246 and CRI-O #6147 suffered).
/// A container or pod not sampled yet (created since the last pass) is sampled on demand; a container
/// still being created is sampled but not kept, since its cgroup may not be there yet.
/// <para>
/// A read also asks for a pass <see cref="MinimumSpacing"/> after it (reads meanwhile ask once, and a
/// read never waits for it): two reads a second apart, as <c>crictl stats</c> and <c>statsp</c>
/// make them to compute a CPU percentage from usage_core_nano_seconds, then see two samples with
/// different timestamps instead of the same one (crictl's "cpu stat is not updated during sample").
/// containerd and CRI-O without a stats period read every cgroup on every call instead.
/// </para>
/// </summary>
public sealed class StatsCollector(RuntimeRegistry registry, INodeOperations node, RuntimePaths paths, BerthConfig config, ILogger<StatsCollector> logger)
    : BackgroundService
{
    private readonly ConcurrentDictionary<string, SamplePair<ContainerSample>> _containers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SamplePair<PodSample>> _pods = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _pass = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0);
    private int _wakeRequested;
    private long _lastPassEnded = Stopwatch.GetTimestamp();

    /// <summary>How long after a read the pass it asked for runs: half of crictl's one-second sample, so that pass lands between crictl's two reads, over a real interval.</summary>
    public static readonly TimeSpan MinimumSpacing = TimeSpan.FromMilliseconds(500);

    /// <summary>The sampling period.</summary>
    public TimeSpan Period { get; } = TimeSpan.FromSeconds(config.StatsCollectPeriodSeconds);

    /// <summary>The mount point reported as the writable layers' filesystem (ImageFsInfo's container filesystem).</summary>
    public string LayerFilesystem => Path.Combine(paths.Root, "containers");

    /// <summary>
    /// ImageFsInfo's container filesystem: every container's writable layer as last sampled, summed. It
    /// costs no walk per call (ImageFsInfo walked every layer on each one); a layer made since the last
    /// pass counts from the next, as containerd serves it from its periodic snapshot usage.
    /// </summary>
    public FilesystemUsage WritableLayers()
    {
        ulong bytes = 0, inodes = 0;
        foreach (var pair in _containers.Values)
        {
            if (pair.Latest.WritableLayer is { } layer)
            {
                bytes += layer.Bytes;
                inodes += layer.Inodes;
            }
        }
        return new FilesystemUsage(LayerFilesystem, (long)bytes, (long)inodes);
    }

    /// <summary>Shim processes alive at the last pass (sandboxes' and containers').</summary>
    public int LiveShims { get; private set; }

    /// <summary>Seconds since the last pass ended: above <see cref="Period"/> when sampling falls behind.</summary>
    public double LagSeconds => Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastPassEnded)).TotalSeconds;

    /// <summary>The container's last two samples; a container never sampled is sampled now.</summary>
    public SamplePair<ContainerSample> Of(Container container)
    {
        RequestPass();
        if (container.State.Status == ProcessStatus.Creating)
        {
            // Its shim may not have made the cgroup yet: a sample now is not kept, lest it stand for a period.
            return new SamplePair<ContainerSample>(Sample(container), null);
        }
        return _containers.GetOrAdd(container.Id, static (_, state) => new SamplePair<ContainerSample>(state.Self.Sample(state.Container), null), (Self: this, Container: container));
    }

    /// <summary>The pod's last two samples; a pod never sampled is sampled now.</summary>
    public SamplePair<PodSample> Of(Sandbox sandbox)
    {
        RequestPass();
        if (_pods.TryGetValue(sandbox.Id, out var pair))
        {
            return pair;
        }
        var counters = NetworkNamespaceOf(sandbox) is { } netns ? node.ReadInterfaceCounters([netns])[0] : null;
        return _pods.GetOrAdd(sandbox.Id, new SamplePair<PodSample>(Sample(sandbox, counters), null));
    }

    /// <summary>One pass over every container and pod of the node; passes never overlap.</summary>
    public async Task SampleAllAsync(CancellationToken ct)
    {
        await _pass.WaitAsync(ct);
        long started = Stopwatch.GetTimestamp();
        try
        {
            var containers = registry.Containers.ToList();
            foreach (var container in containers.Where(container => container.State.Status != ProcessStatus.Creating))
            {
                var sample = Sample(container);
                _containers.AddOrUpdate(container.Id, static (_, s) => new SamplePair<ContainerSample>(s, null), static (_, pair, s) => pair.Next(s), sample);
            }
            var sandboxes = registry.Sandboxes.ToList();
            var withNetwork = sandboxes.Where(sandbox => NetworkNamespaceOf(sandbox) is not null).ToList();
            var counters = node.ReadInterfaceCounters(withNetwork.Select(sandbox => NetworkNamespaceOf(sandbox)!).ToList());
            var countersById = new Dictionary<string, IReadOnlyList<InterfaceCounters>?>(StringComparer.Ordinal);
            for (int i = 0; i < withNetwork.Count; i++)
            {
                countersById[withNetwork[i].Id] = counters[i];
            }
            foreach (var sandbox in sandboxes)
            {
                var sample = Sample(sandbox, countersById.GetValueOrDefault(sandbox.Id));
                _pods.AddOrUpdate(sandbox.Id, static (_, s) => new SamplePair<PodSample>(s, null), static (_, pair, s) => pair.Next(s), sample);
            }
            LiveShims = containers.Count(container => RuntimeMetrics.ShimAlive(paths.ContainerBundle(container.Id)))
                + sandboxes.Count(sandbox => RuntimeMetrics.ShimAlive(paths.SandboxBundle(sandbox.Id)));
            Forget(_containers, containers.Select(container => container.Id));
            Forget(_pods, sandboxes.Select(sandbox => sandbox.Id));
        }
        finally
        {
            Interlocked.Exchange(ref _lastPassEnded, Stopwatch.GetTimestamp());
            Telemetry.StatsCollectDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
            _pass.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        RuntimeMetrics.Register(registry, this);
        try
        {
            while (true)
            {
                long started = Stopwatch.GetTimestamp();
                // Reads from now on see this pass or a later one; a read during it asks for the next.
                Volatile.Write(ref _wakeRequested, 0);
                try
                {
                    await SampleAllAsync(stoppingToken);
                }
                catch (Exception error) when (error is not OperationCanceledException)
                {
                    logger.LogError(error, "Sampling container and pod usage failed");
                }
                if (await _wake.WaitAsync(Period - Stopwatch.GetElapsedTime(started) is { Ticks: > 0 } rest ? rest : TimeSpan.Zero, stoppingToken))
                {
                    // Not at once: a pass right after the read would give the next read a sample a few milliseconds apart.
                    await Task.Delay(MinimumSpacing, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Asks for a pass after the read in progress; many reads before it starts ask once.</summary>
    private void RequestPass()
    {
        if (Interlocked.Exchange(ref _wakeRequested, 1) == 0)
        {
            _wake.Release();
        }
    }

    private ContainerSample Sample(Container container)
    {
        long now = Identifiers.NowNanoseconds();
        return new ContainerSample(now, node.ReadCgroupUsage(container.Record.CgroupPath), MeasureLayer(container.Id));
    }

    private PodSample Sample(Sandbox sandbox, IReadOnlyList<InterfaceCounters>? counters) =>
        new(Identifiers.NowNanoseconds(), node.ReadCgroupUsage(sandbox.PodCgroup), counters);

    /// <summary>Where the pod's interfaces are: its pinned netns while it is ready; none on the host's network.</summary>
    private static string? NetworkNamespaceOf(Sandbox sandbox) => sandbox.Ready ? sandbox.NetworkNamespace : null;

    private LayerUsage? MeasureLayer(string containerId)
    {
        string upper = Path.Combine(paths.ContainerLayer(containerId), "upper");
        try
        {
            var (bytes, inodes) = DiskUsage.Measure(upper);
            return new LayerUsage((ulong)bytes, (ulong)inodes);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            // Not made yet, or removed (or changed) while it was walked: no figure this time.
            return null;
        }
    }

    private static void Forget<T>(ConcurrentDictionary<string, T> samples, IEnumerable<string> present)
    {
        var keep = present.ToHashSet(StringComparer.Ordinal);
        foreach (string id in samples.Keys.Where(id => !keep.Contains(id)))
        {
            samples.TryRemove(id, out _);
        }
    }
}
