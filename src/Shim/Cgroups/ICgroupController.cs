using Berth.Api.Shim;

namespace Berth.Shim.Cgroups;

/// <summary>
/// One controller of one cgroup version (youki's libcgroups shape): it owns its part of
/// LinuxResources and of the stats. Instances hold the paths they read, built once, so reading
/// stats allocates nothing. <see cref="CgroupRequests"/> says which controllers a LinuxResources
/// needs, so a limit whose controller the node lacks is refused by name rather than dropped.
/// </summary>
internal interface ICgroupController
{
    /// <summary>Writes the limits this controller owns; values absent from <paramref name="resources"/> are left as they are.</summary>
    void Apply(LinuxResources resources);

    /// <summary>Adds this controller's figures; <paramref name="buffer"/> is scratch space for reading files.</summary>
    void ReadStats(ref CgroupStatsBuilder stats, Span<byte> buffer);
}

/// <summary>The mutable counterpart of <see cref="CgroupStats"/> the controllers fill in.</summary>
internal struct CgroupStatsBuilder
{
    public ulong CpuUsageNanos;
    public ulong MemoryUsageBytes;
    public ulong MemoryWorkingSetBytes;
    public ulong MemoryRssBytes;
    public ulong MemoryPageFaults;
    public ulong MemoryMajorPageFaults;
    public ulong MemoryLimitBytes;
    public ulong OomKills;
    public ulong Pids;

    public readonly CgroupStats Build() => new()
    {
        CpuUsageNanos = CpuUsageNanos,
        MemoryUsageBytes = MemoryUsageBytes,
        MemoryWorkingSetBytes = MemoryWorkingSetBytes,
        MemoryRssBytes = MemoryRssBytes,
        MemoryPageFaults = MemoryPageFaults,
        MemoryMajorPageFaults = MemoryMajorPageFaults,
        MemoryLimitBytes = MemoryLimitBytes,
        OomKills = OomKills,
        Pids = Pids,
    };
}
