using Berth.Api.Shim;

namespace Berth.Shim.Cgroups;

/// <summary>
/// The node's cgroup layout (v1 hierarchies or the v2 unified tree), cgroupfs driver: a
/// config.json <c>linux.cgroupsPath</c> is relative to each hierarchy's mount point.
/// Implementations hold one small type per controller and version (DESIGN.md, "Habits"):
/// V1/ (memory, cpu, cpuset, blkio, pids, hugetlb, devices) and V2/ (memory, cpu,
/// cpuset, io, pids, hugetlb, unified); <see cref="CgroupManagerFactory"/> picks one.
/// Errors: invalid input is an <see cref="InvalidSpecException"/>; what the node cannot do is a
/// <see cref="CgroupUnsupportedException"/>; a value the kernel refuses a <see cref="CgroupWriteException"/>;
/// a cgroup that will not go away a <see cref="CgroupBusyException"/> (all IOExceptions).
/// </summary>
internal interface ICgroupManager
{
    /// <summary>1 or 2.</summary>
    int Version { get; }

    /// <summary>
    /// Creates the cgroup at <paramref name="path"/> (and missing parents) in every hierarchy, or
    /// adopts it when it exists, and applies <paramref name="resources"/>; on failure removes what it made.
    /// </summary>
    ICgroup Create(string path, LinuxResources? resources);
}

/// <summary>One container's (or sandbox's) cgroup.</summary>
internal interface ICgroup
{
    /// <summary>The cgroupsPath it was created from.</summary>
    string Path { get; }

    /// <summary>Moves a process (all its threads) into the cgroup in every hierarchy.</summary>
    void AddProcess(int pid);

    /// <summary>Applies limits; values absent (null, or 0 where 0 means unset as in runc) are left as they are.</summary>
    void Update(LinuxResources resources);

    /// <summary>
    /// Freezes (<paramref name="frozen"/> true) or thaws every task of the cgroup, returning once the kernel reports
    /// the state settled (v1 freezer.state, v2 cgroup.events).
    /// </summary>
    /// <exception cref="CgroupUnsupportedException">No freezer: no v1 freezer hierarchy, or a v2 kernel before 5.2.</exception>
    /// <exception cref="CgroupBusyException">A freeze did not settle within <paramref name="bound"/>; the cgroup was thawed again.</exception>
    void SetFrozen(bool frozen, TimeSpan bound);

    /// <summary>The process ids in the cgroup (from one hierarchy).</summary>
    IReadOnlyList<int> Processes();

    /// <summary>
    /// SIGKILLs every process of the cgroup and its descendants in one write to <c>cgroup.kill</c> (v2, Linux
    /// 5.14+), which no fork can race, as runc kills on v2; false where there is no such file (v1, older
    /// kernels): the caller then signals each of <see cref="Processes"/>.
    /// </summary>
    bool TryKillAll();

    /// <summary>How many times the kernel's OOM killer killed a process of this cgroup (memory.oom_control or memory.events oom_kill).</summary>
    ulong OomKillCount();

    /// <summary>
    /// Removes the cgroup's directories in every hierarchy (it must hold no process), retrying for
    /// about a second while the kernel still counts exiting tasks, and then the parents it made
    /// that are now empty. Safe to call twice.
    /// </summary>
    void Delete();
}
