using Berth.Api.Shim;

namespace Berth.Shim.Cgroups;

/// <summary>
/// The node's cgroup layout (v1 hierarchies or the v2 unified tree), cgroupfs driver: a
/// config.json <c>linux.cgroupsPath</c> is relative to each hierarchy's mount point.
/// Implementations hold one small type per controller and version (DESIGN.md, "Habits").
/// </summary>
internal interface ICgroupManager
{
    /// <summary>1 or 2.</summary>
    int Version { get; }

    /// <summary>Creates the cgroup at <paramref name="path"/> (and missing parents), or adopts it when it exists, and applies <paramref name="resources"/>.</summary>
    ICgroup Create(string path, LinuxResources? resources);
}

/// <summary>One container's (or sandbox's) cgroup.</summary>
internal interface ICgroup
{
    /// <summary>The cgroupsPath it was created from.</summary>
    string Path { get; }

    /// <summary>Moves a process (all its threads) into the cgroup in every hierarchy.</summary>
    void AddProcess(int pid);

    /// <summary>Applies limits; values absent from <paramref name="resources"/> are left as they are.</summary>
    void Update(LinuxResources resources);

    /// <summary>The process ids in the cgroup (from one hierarchy).</summary>
    IReadOnlyList<int> Processes();

    /// <summary>How many times the kernel's OOM killer killed a process of this cgroup (memory.oom_control or memory.events oom_kill).</summary>
    ulong OomKillCount();

    CgroupStats Stats();

    /// <summary>Removes the cgroup's directories (it must hold no process); retries briefly while the kernel still counts exiting tasks.</summary>
    void Delete();
}

/// <summary>A point-in-time reading of a cgroup's usage; zero where a controller is absent.</summary>
internal sealed record CgroupStats
{
    public ulong CpuUsageNanos { get; init; }
    public ulong MemoryUsageBytes { get; init; }
    public ulong MemoryWorkingSetBytes { get; init; }
    public ulong MemoryRssBytes { get; init; }
    public ulong MemoryPageFaults { get; init; }
    public ulong MemoryMajorPageFaults { get; init; }
    public ulong MemoryLimitBytes { get; init; }
    public ulong OomKills { get; init; }
    public ulong Pids { get; init; }
}
