namespace Berth.Api.Shim.Cgroups;

/// <summary>
/// What one cgroup has used, read at <see cref="CgroupUsageReader.Read"/> time. A part is null when the
/// node has no controller for it (v1 without that hierarchy, v2 with it not enabled) or the kernel lacks
/// the file (PSI before 4.20, swap without swap accounting).
/// </summary>
/// <param name="CpuNanoseconds">Cumulative CPU time of every task in the cgroup and below, nanoseconds (v1 cpuacct.usage, v2 cpu.stat usage_usec × 1000).</param>
/// <param name="Memory">Memory figures, hierarchical.</param>
/// <param name="Swap">Swap figures, where swap is accounted.</param>
/// <param name="Processes">Tasks in the cgroup and below (pids.current).</param>
/// <param name="CpuPressure">cpu.pressure (v2, or the hybrid cgroup2 tree on v1).</param>
/// <param name="MemoryPressure">memory.pressure.</param>
/// <param name="IoPressure">io.pressure.</param>
public sealed record CgroupUsage(
    ulong? CpuNanoseconds,
    CgroupMemory? Memory,
    CgroupSwap? Swap,
    ulong? Processes,
    PressureStall? CpuPressure,
    PressureStall? MemoryPressure,
    PressureStall? IoPressure);

/// <summary>
/// Memory of a cgroup, bytes, as cAdvisor and containerd compute them: the working set is usage less
/// inactive file pages (what the kernel cannot reclaim at once; kubelet evicts on it), floored at 0.
/// </summary>
/// <param name="Usage">v1 memory.usage_in_bytes, v2 memory.current.</param>
/// <param name="WorkingSet">Usage minus inactive file (v1 total_inactive_file, v2 inactive_file).</param>
/// <param name="Rss">Anonymous memory (v1 total_rss, v2 anon).</param>
/// <param name="Cache">Page cache (v1 total_cache, v2 file).</param>
/// <param name="MappedFile">Mapped file pages (v1 total_mapped_file, v2 file_mapped).</param>
/// <param name="PageFaults">Cumulative page faults (v1 total_pgfault, v2 pgfault).</param>
/// <param name="MajorPageFaults">Cumulative major page faults (v1 total_pgmajfault, v2 pgmajfault).</param>
/// <param name="Limit">The limit, or null when there is none (v2 "max", v1's page-counter maximum).</param>
/// <param name="FailCount">Times usage hit the limit (v1 memory.failcnt, v2 memory.events max).</param>
public sealed record CgroupMemory(
    ulong Usage,
    ulong WorkingSet,
    ulong Rss,
    ulong Cache,
    ulong MappedFile,
    ulong PageFaults,
    ulong MajorPageFaults,
    ulong? Limit,
    ulong FailCount)
{
    /// <summary>Bytes left before the limit: limit minus working set (0 when above it); null without a limit, as containerd leaves it unset.</summary>
    public ulong? Available => Limit is { } limit ? (limit > WorkingSet ? limit - WorkingSet : 0) : null;
}

/// <summary>Swap of a cgroup, bytes: v2 memory.swap.current and memory.swap.max; v1 memsw usage and limit minus the memory ones.</summary>
/// <param name="Usage">Swap in use.</param>
/// <param name="Limit">The swap limit, or null when there is none.</param>
public sealed record CgroupSwap(ulong Usage, ulong? Limit)
{
    /// <summary>Swap left before the limit; null without one.</summary>
    public ulong? Available => Limit is { } limit ? (limit > Usage ? limit - Usage : 0) : null;
}

/// <summary>One pressure-stall file (cpu.pressure, memory.pressure, io.pressure): its "some" and "full" lines.</summary>
public sealed record PressureStall(PressureLine Some, PressureLine? Full);

/// <summary>
/// One PSI line: the share of wall time (percent) tasks stalled over the last 10, 60 and 300 seconds,
/// and the total stall time (the kernel counts microseconds; here nanoseconds, as the CRI wants).
/// </summary>
public sealed record PressureLine(double Avg10, double Avg60, double Avg300, ulong TotalNanoseconds);
