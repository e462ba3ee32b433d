using Berth.Api.Shim.Cgroups;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.Stats;

namespace Berth.RuntimeService.Node;

/// <summary>
/// What the managers do to the node beyond writing files: mounts, cgroups and device lookups, the
/// operations that need root and a real kernel. Behind an interface so the managers' logic is tested
/// without root (as youki passes its syscalls through a trait with a test implementation).
/// </summary>
public interface INodeOperations
{
    /// <summary>Mounts a tmpfs at <paramref name="path"/> (a pod's /dev/shm), nosuid, nodev, noexec, with tmpfs <paramref name="options"/>.</summary>
    void MountTmpfs(string path, string options);

    /// <summary>Detaches every mount stacked at <paramref name="path"/>; nothing when none is there or the path is gone.</summary>
    void UnmountAll(string path);

    /// <summary>True when the cgroupfs path (e.g. /kubepods/pod1) exists in any hierarchy.</summary>
    bool CgroupExists(string cgroupPath);

    /// <summary>
    /// The node's cgroup and cgroup2 mounts, read from berthd's mount table once (at first use), for the
    /// shims (<see cref="Berth.Api.Shim.ShimOptions.CgroupMounts"/>), which would otherwise read a mount table
    /// that grows with every pod.
    /// </summary>
    IReadOnlyList<Berth.Api.Shim.Cgroups.CgroupMount> CgroupMounts { get; }

    /// <summary>True when the cgroup holds no process and no child cgroup in any hierarchy (or does not exist).</summary>
    bool CgroupIsEmpty(string cgroupPath);

    /// <summary>
    /// SIGKILLs every process in the cgroup and its children and removes them, deepest first, in every
    /// hierarchy. Only for cgroups that belong to one sandbox or container. Throws when one will not go.
    /// </summary>
    Task KillCgroupAsync(string cgroupPath);

    /// <summary>Removes the cgroup in every hierarchy if it holds no process and no child cgroup (rmdir, never kill); true when it is gone.</summary>
    bool TryRemoveEmptyCgroup(string cgroupPath);

    /// <summary>The device node at a host path, symbolic links followed (kubelet passes /dev/disk/by-id/... links).</summary>
    DeviceLookup LookUpDevice(string hostPath);

    /// <summary>
    /// The device nodes under /dev (symbolic links not followed), walked as containerd's HostDevices walks
    /// them: what <see cref="ContainerDevices.IsHostDevice"/> leaves out is skipped. A privileged container gets them.
    /// </summary>
    IReadOnlyList<HostDevice> HostDevices();

    /// <summary>
    /// Makes a bind mount's host path exist: a missing one becomes a directory (mkdir -p, mode 0755), as
    /// Docker, containerd and CRI-O do for kubelet's hostPath volumes of type "".
    /// </summary>
    void EnsureHostPath(string hostPath);

    /// <summary>
    /// The existing <paramref name="hostPath"/> with its symbolic links followed (as containerd's
    /// EvalSymlinks), and the mount it lives on as /proc/self/mountinfo shows it (<see cref="MountInfo.Of"/>).
    /// FailedPrecondition when the path cannot be resolved.
    /// </summary>
    (string ResolvedPath, SourceMount? Mount) FindSourceMount(string hostPath);

    /// <summary>
    /// A TCP socket of the network namespace pinned at <paramref name="networkNamespace"/> (null: berthd's
    /// own, for a pod on the host's network), not yet connected: port forwarding connects it to the pod's
    /// loopback. Made on a thread that enters the namespace and ends; the socket keeps the namespace.
    /// </summary>
    System.Net.Sockets.Socket CreateTcpSocket(string? networkNamespace, System.Net.Sockets.AddressFamily family);

    /// <summary>
    /// Creates a new network namespace with its loopback up and pins it by a bind mount on
    /// <paramref name="pinPath"/> (created; its directory must exist), as containerd pins a pod's netns
    /// before CNI ADD: the pod's reaper then joins it by path while ADD runs. Removed with
    /// <see cref="UnmountAll"/> and a delete of the file. Throws Internal when the kernel refuses.
    /// </summary>
    void CreateNetworkNamespace(string pinPath);

    /// <summary>
    /// Loads Berth's default AppArmor profile (<see cref="AppArmorDefaultProfile"/>) into the kernel with
    /// apparmor_parser unless it is loaded already. Only where AppArmor is on; FailedPrecondition when it
    /// cannot be loaded.
    /// </summary>
    void EnsureAppArmorDefaultProfile();

    /// <summary>
    /// What the cgroup at <paramref name="cgroupPath"/> (cgroupfs path) has used, read from the node's
    /// cgroup files (v1 or v2); null when the cgroup does not exist. Safe to call from several threads.
    /// </summary>
    CgroupUsage? ReadCgroupUsage(string cgroupPath);

    /// <summary>
    /// The interface counters inside each pod network namespace of <paramref name="networkNamespaces"/>, in
    /// the same order; an entry is null when its namespace could not be read (the pin is gone). Read through
    /// /proc/PID/net/dev of the namespace's member process when that process is still in the pinned namespace
    /// (the same counters, with no thread and no setns); the others on one thread that enters each in turn
    /// and ends, as <see cref="CreateTcpSocket"/> does.
    /// </summary>
    IReadOnlyList<IReadOnlyList<InterfaceCounters>?> ReadInterfaceCounters(IReadOnlyList<PodNetworkNamespace> networkNamespaces);
}

/// <summary>A pod's network namespace: where it is pinned, and the pid (host pid namespace) of a process in it, 0 when none is known.</summary>
public readonly record struct PodNetworkNamespace(string Pin, int MemberPid);
