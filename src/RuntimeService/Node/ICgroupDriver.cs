using Berth.Api.Shim;
using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Node;

/// <summary>
/// Who owns the pod and container cgroups besides the shim that writes their files: nobody (cgroupfs) or
/// systemd, whose units they then are. The shim always makes a cgroup and writes its limits; under systemd the
/// daemon first starts the pod's slice and, once the shim's process is there, a transient scope holding it
/// with the limits as unit properties, so systemd's view and the files agree. Cgroup paths are those of
/// <see cref="CgroupPaths"/> under <see cref="Naming"/>. Errors are domain errors (FailedPrecondition when
/// systemd refuses).
/// </summary>
public interface ICgroupDriver
{
    /// <summary>The driver and, for systemd, its root cgroup: what RuntimeConfig reports and the planners name paths with.</summary>
    CgroupNaming Naming { get; }

    /// <summary>Before the sandbox's shim starts: systemd starts the pod's slice when its cgroup does not exist yet (kubelet makes its own).</summary>
    Task PreparePodAsync(string podCgroup, CancellationToken ct);

    /// <summary>Once the shim made <paramref name="cgroupPath"/> and put <paramref name="pid"/> in it: systemd makes it a scope unit with <paramref name="resources"/> as properties.</summary>
    Task AdoptAsync(string cgroupPath, int pid, LinuxResources? resources, CancellationToken ct);

    /// <summary>New limits for a live container, before the shim writes them: systemd's unit properties follow.</summary>
    Task UpdateAsync(string cgroupPath, LinuxResources resources, CancellationToken ct);

    /// <summary>The container or reaper is gone: systemd stops its scope (nothing when it is gone already).</summary>
    Task ReleaseAsync(string cgroupPath);

    /// <summary>Removes a pod cgroup level berth made once it holds nothing: rmdir (cgroupfs) or stopping its slice (systemd). True when it is gone.</summary>
    Task<bool> TryRemoveLevelAsync(string level);
}

/// <summary>The cgroupfs driver: the shim's files are the whole story; levels are removed with rmdir.</summary>
public sealed class CgroupfsDriver(INodeOperations node) : ICgroupDriver
{
    public CgroupNaming Naming => CgroupNaming.Cgroupfs;

    public Task PreparePodAsync(string podCgroup, CancellationToken ct) => Task.CompletedTask;

    public Task AdoptAsync(string cgroupPath, int pid, LinuxResources? resources, CancellationToken ct) => Task.CompletedTask;

    public Task UpdateAsync(string cgroupPath, LinuxResources resources, CancellationToken ct) => Task.CompletedTask;

    public Task ReleaseAsync(string cgroupPath) => Task.CompletedTask;

    public Task<bool> TryRemoveLevelAsync(string level) => Task.FromResult(node.TryRemoveEmptyCgroup(level));
}
