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
    private readonly object _pass = new();
    private readonly AutoResetEvent _wake = new(false);
    private int _wakeRequested;
    private long _lastPassEnded = Stopwatch.GetTimestamp();

    /// <summary>How long after a read the pass it asked for runs: half of crictl's one-second sample, so that pass lands between crictl's two reads, over a real interval.</summary>
    public static readonly TimeSpan MinimumSpacing = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The longest a writable layer's figure is kept while its container uses no CPU: cAdvisor's disk usage
    /// period (its fsHandler's one minute), for what writes to a layer from outside the container's cgroup.
    /// </summary>
    public static readonly TimeSpan LayerMaxAge = TimeSpan.FromMinutes(1);

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

    /// <summary>Seconds since the last pass ended: above <see cref="Period"/> when sampling falls behind.</summary>
    public double LagSeconds => Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastPassEnded)).TotalSeconds;

    /// <summary>The container's last two samples; a container never sampled is sampled now.</summary>
    public SamplePair<ContainerSample> Of(Container container)
    {
        RequestPass();
        if (container.State.Status == ProcessStatus.Creating)
        {
            // Its shim may not have made the cgroup yet: a sample now is not kept, lest it stand for a period.
            return new SamplePair<ContainerSample>(Sample(container, null), null);
        }
        return _containers.GetOrAdd(container.Id, static (_, state) => new SamplePair<ContainerSample>(state.Self.Sample(state.Container, null), null), (Self: this, Container: container));
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

    /// <summary>One pass over every container and pod of the node, on the calling thread; passes never overlap.</summary>
    public void SampleAll()
    {
        Monitor.Enter(_pass);
        long started = Stopwatch.GetTimestamp();
        try
        {
            var containers = registry.Containers.ToList();
            foreach (var container in containers.Where(container => container.State.Status != ProcessStatus.Creating))
            {
                var sample = Sample(container, _containers.TryGetValue(container.Id, out var known) ? known.Latest : null);
                _containers.AddOrUpdate(container.Id, static (_, s) => new SamplePair<ContainerSample>(s, null), static (_, pair, s) => pair.Next(s), sample);
            }
            var sandboxes = registry.Sandboxes.ToList();
            var withNetwork = sandboxes.Where(sandbox => NetworkNamespaceOf(sandbox) is not null).ToList();
            var counters = node.ReadInterfaceCounters(withNetwork.Select(sandbox => NetworkNamespaceOf(sandbox)!.Value).ToList());
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
            Forget(_containers, containers.Select(container => container.Id));
            Forget(_pods, sandboxes.Select(sandbox => sandbox.Id));
        }
        finally
        {
            Interlocked.Exchange(ref _lastPassEnded, Stopwatch.GetTimestamp());
            Telemetry.StatsCollectDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
            Monitor.Exit(_pass);
        }
    }

    /// <summary>
    /// Runs the passes on a thread of their own until <paramref name="stoppingToken"/>: a pass is a few
    /// thousand small synchronous reads, and a thread that sleeps on one wait until the period is up or a
    /// read asks costs nothing between passes, where the thread pool's timer, its wake-ups and its workers'
    /// spinning cost about as much as the reads on an idle node.
    /// </summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        RuntimeMetrics.Register(registry, this, paths);
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sampler = new Thread(() =>
        {
            try
            {
                Run(stoppingToken);
            }
            finally
            {
                ended.SetResult();
            }
        })
        {
            IsBackground = true,
            Name = "stats collector",
        };
        sampler.Start();
        return ended.Task;
    }

    private void Run(CancellationToken stoppingToken)
    {
        WaitHandle[] wakes = [stoppingToken.WaitHandle, _wake];
        while (!stoppingToken.IsCancellationRequested)
        {
            long started = Stopwatch.GetTimestamp();
            // Reads from now on see this pass or a later one; a read during it asks for the next.
            Volatile.Write(ref _wakeRequested, 0);
            try
            {
                SampleAll();
            }
            catch (Exception error)
            {
                logger.LogError(error, "Sampling container and pod usage failed");
            }
            var rest = Period - Stopwatch.GetElapsedTime(started);
            // Not at once after a read: a pass right after it would give the next read a sample a few milliseconds apart.
            if (WaitHandle.WaitAny(wakes, rest > TimeSpan.Zero ? rest : TimeSpan.Zero) == 1)
            {
                stoppingToken.WaitHandle.WaitOne(MinimumSpacing);
            }
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _wake.Dispose();
    }

    /// <summary>Asks for a pass after the read in progress; many reads before it starts ask once.</summary>
    private void RequestPass()
    {
        if (Interlocked.Exchange(ref _wakeRequested, 1) == 0)
        {
            _wake.Set();
        }
    }

    /// <summary>
    /// A sample of the container; its writable layer is walked again only when it may have changed since
    /// <paramref name="previous"/>'s figure: the container's cgroup used CPU time since that sample (nothing
    /// writes to the layer without running: an exec or a copy in joins the cgroup too), or the figure is
    /// <see cref="LayerMaxAge"/> old (what changed it from outside the cgroup, such as the host writing into
    /// the mounted rootfs). A walk is the costly part of a pass and a sleeping container's layer never
    /// changes; containerd walks every active snapshot on each stats period.
    /// </summary>
    private ContainerSample Sample(Container container, ContainerSample? previous)
    {
        long now = Identifiers.NowNanoseconds();
        var cgroup = node.ReadCgroupUsage(container.Record.CgroupPath);
        var layer = previous?.WritableLayer is { } known && cgroup?.CpuNanoseconds == previous.Cgroup?.CpuNanoseconds
            && now - known.Timestamp < LayerMaxAge.Ticks * TimeSpan.NanosecondsPerTick
            ? known
            : MeasureLayer(container.Id, now);
        return new ContainerSample(now, cgroup, layer);
    }

    private PodSample Sample(Sandbox sandbox, IReadOnlyList<InterfaceCounters>? counters) =>
        new(Identifiers.NowNanoseconds(), node.ReadCgroupUsage(sandbox.PodCgroup), counters);

    /// <summary>Where the pod's interfaces are: its pinned netns, entered through its reaper, while it is ready; none on the host's network.</summary>
    private static PodNetworkNamespace? NetworkNamespaceOf(Sandbox sandbox) =>
        sandbox.Ready && sandbox.NetworkNamespace is { } pin ? new PodNetworkNamespace(pin, sandbox.ReaperPid) : null;

    private LayerUsage? MeasureLayer(string containerId, long now)
    {
        string upper = Path.Combine(paths.ContainerLayer(containerId), "upper");
        try
        {
            var (bytes, inodes) = DiskUsage.Measure(upper);
            return new LayerUsage((ulong)bytes, (ulong)inodes, now);
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
