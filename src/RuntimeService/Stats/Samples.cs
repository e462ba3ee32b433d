using Berth.Api.Shim.Cgroups;

namespace Berth.RuntimeService.Stats;

/// <summary>One sample of a container: its cgroup's usage (null when the cgroup is gone or not made yet) and its writable layer's.</summary>
/// <param name="Timestamp">When it was taken, Unix nanoseconds.</param>
public sealed record ContainerSample(long Timestamp, CgroupUsage? Cgroup, LayerUsage? WritableLayer);

/// <summary>The disk a writable layer takes: bytes allocated and inodes, each hard-linked inode once (du's way, as containerd's snapshotter usage).</summary>
/// <param name="Timestamp">When the layer was walked, Unix nanoseconds (a sample may carry an earlier walk's figure).</param>
public sealed record LayerUsage(ulong Bytes, ulong Inodes, long Timestamp);

/// <summary>One sample of a pod: its pod cgroup's totals and its interfaces' counters (null on the host's network, or when its netns is gone).</summary>
/// <param name="Timestamp">When it was taken, Unix nanoseconds.</param>
public sealed record PodSample(long Timestamp, CgroupUsage? Cgroup, IReadOnlyList<InterfaceCounters>? Interfaces);

/// <summary>The last two samples of one container or pod: rates (usage_nano_cores) come from the difference.</summary>
public sealed record SamplePair<T>(T Latest, T? Previous) where T : class
{
    /// <summary>The pair after a new sample: the latest becomes the previous.</summary>
    public SamplePair<T> Next(T sample) => new(sample, Latest);
}

/// <summary>Rates from two samples.</summary>
public static class SampleRates
{
    /// <summary>
    /// CPU use between two samples, in nano-cores (10^9 = one core busy all the time): the CPU time
    /// between them over the wall time between them, as containerd and cAdvisor compute it. Null
    /// without a previous sample, or when either lacks CPU time or time did not move forward.
    /// </summary>
    public static ulong? NanoCores(long latestTimestamp, ulong? latestCpu, long? previousTimestamp, ulong? previousCpu)
    {
        if (latestCpu is not { } now || previousCpu is not { } before || previousTimestamp is not { } then
            || latestTimestamp <= then || now < before)
        {
            return null;
        }
        return (ulong)((now - before) * 1e9 / (latestTimestamp - then));
    }
}
