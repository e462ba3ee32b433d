using Berth.Api.Shim;
using Berth.ImageService.Images;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Specs;

/// <summary>What the sandbox spec is built from.</summary>
/// <param name="CgroupsPath">The reaper's cgroup (cgroupfs path, from <see cref="CgroupPaths.Sandbox"/>).</param>
public sealed record SandboxSpecInput(Cri.PodSandboxConfig Config, string SandboxId, string CgroupsPath, SandboxFiles Files);

/// <summary>
/// The per-pod files the daemon prepares on the host and every container of the pod bind-mounts.
/// </summary>
/// <param name="NamespaceDir">Where the sandbox shim pins its namespaces: <c>net</c>, <c>ipc</c>, <c>uts</c>, <c>pid</c> inside it.</param>
/// <param name="ShmPath">The pod's /dev/shm (a tmpfs the daemon mounts), shared by its containers.</param>
public sealed record SandboxFiles(string NamespaceDir, string HostsPath, string ResolvConfPath, string HostnamePath, string ShmPath);

/// <summary>
/// What the node offers to confine a container, and where it keeps Localhost seccomp profiles: read by
/// the managers (files and /sys), passed to the pure planners as input.
/// </summary>
/// <param name="Architecture">.NET's name of the node's architecture (<c>x64</c>, <c>arm64</c>, ...): RuntimeDefault's seccomp architectures and rules follow it.</param>
/// <param name="SeccompProfileRoot">Where a relative Localhost seccomp profile is found (config <c>seccompProfileRoot</c>).</param>
/// <param name="ReadSeccompProfile">An absolute host path → the file's bytes, null when nothing is there; throws a domain error naming the file when it cannot be read.</param>
/// <param name="AppArmorEnabled">The kernel has AppArmor on (/sys/module/apparmor/parameters/enabled is Y).</param>
/// <param name="AppArmorProfileLoaded">A profile name → whether the kernel has it loaded (/sys/kernel/security/apparmor/profiles).</param>
/// <param name="SelinuxEnabled">The kernel has SELinux on (/sys/fs/selinux is mounted).</param>
public sealed record NodeSecurity(
    string Architecture,
    string SeccompProfileRoot,
    Func<string, byte[]?> ReadSeccompProfile,
    bool AppArmorEnabled,
    Func<string, bool> AppArmorProfileLoaded,
    bool SelinuxEnabled)
{
    /// <summary>kubelet's default seccomp root (its --root-dir /var/lib/kubelet, then seccomp/).</summary>
    public const string DefaultSeccompProfileRoot = "/var/lib/kubelet/seccomp";

    /// <summary>An x86-64 node with no profile files and no AppArmor or SELinux: what the unit tests start from.</summary>
    public static NodeSecurity Plain { get; } = new("x64", DefaultSeccompProfileRoot, _ => null, false, _ => false, false);
}

/// <summary>What a container spec is built from.</summary>
/// <param name="BlockIoDefaults">Node-wide block I/O settings from config.json; the pod's blkio.berth.io annotations override them.</param>
/// <param name="ResolveDevice">Host path → what is there (symbolic links followed): a device node, something else, or nothing.</param>
/// <param name="Security">What the node offers for seccomp, AppArmor and SELinux.</param>
/// <param name="TargetPidNamespacePath">
/// For pid namespace mode TARGET: the target container's pid namespace (e.g. <c>/proc/&lt;pid&gt;/ns/pid</c>),
/// which only the daemon can know; required in that mode, ignored otherwise.
/// </param>
/// <param name="HostDevices">The node's device nodes under /dev (<see cref="ContainerDevices.IsHostDevice"/>), read only for a privileged container; null: none.</param>
public sealed record ContainerSpecInput(
    Cri.ContainerConfig Config,
    Cri.PodSandboxConfig Sandbox,
    ImageConfig Image,
    string ContainerId,
    string SandboxId,
    string RootfsPath,
    string CgroupsPath,
    SandboxFiles SandboxFiles,
    BlockIoDefaults BlockIoDefaults,
    Func<string, DeviceLookup> ResolveDevice,
    NodeSecurity Security,
    string? TargetPidNamespacePath = null,
    Func<IReadOnlyList<HostDevice>>? HostDevices = null);

/// <summary>A device node of the host: its path under /dev and what it is.</summary>
public sealed record HostDevice(string Path, DeviceNumber Number);

/// <summary>What a host path holds for a CRI device: nothing, something that is not a device node, or a device.</summary>
public sealed record DeviceLookup(DeviceNumber? Device, bool Exists)
{
    public static DeviceLookup Missing { get; } = new(null, false);

    public static DeviceLookup NotADevice { get; } = new(null, true);

    public static DeviceLookup Found(DeviceNumber device) => new(device, true);

    /// <summary>The device; a <see cref="SpecException"/> naming <paramref name="what"/> (e.g. "device /dev/fuse") when the path is missing or holds no device node.</summary>
    public DeviceNumber Require(string what) =>
        Device ?? throw new SpecException(Exists ? $"{what} is not a device node" : $"{what} does not exist on this node");
}

/// <summary>A device node on the host, as stat(2) reports it.</summary>
/// <param name="Type"><c>c</c> (character) or <c>b</c> (block).</param>
/// <param name="FileMode">Permission bits of the node (e.g. 0666 octal); null lets the shim choose.</param>
public sealed record DeviceNumber(long Major, long Minor, char Type, uint? FileMode = null, uint? Uid = null, uint? Gid = null);

/// <summary>
/// The result of <see cref="ContainerSpecBuilder.Build"/>: the spec, and what of its user the daemon
/// still has to look up in the container's own /etc/passwd and /etc/group (spec generation cannot read
/// the rootfs).
/// </summary>
public sealed record ContainerSpec(OciSpec Spec, UserLookup User);

/// <summary>
/// The parts of <c>process.user</c> that need the image's /etc/passwd and /etc/group. The spec already
/// holds every numeric id; apply these in order, as containerd's WithUser and WithAdditionalGIDs do:
/// <list type="number">
/// <item><see cref="UserName"/>: uid = the passwd entry's uid (no entry: fail the create); and, when
/// <see cref="PrimaryGroupFromPasswd"/>, gid = that entry's gid.</item>
/// <item>Else when <see cref="PrimaryGroupFromPasswd"/>: gid = the gid of the passwd entry whose uid is the
/// spec's uid, when there is one (else it stays 0).</item>
/// <item><see cref="GroupName"/>: gid = the group entry's gid (no entry: fail the create).</item>
/// <item>Unless <see cref="StrictGroups"/> (SupplementalGroupsPolicy Strict): add to additionalGids the gids
/// of the /etc/group entries that list the user's name (as given, or the passwd name of the uid) as a
/// member, keeping the list sorted and without duplicates.</item>
/// <item>Always: the primary gid leads additionalGids unless it is in them (containerd's ensureAdditionalGids),
/// so the process's supplementary groups hold it, as under containerd.</item>
/// </list>
/// </summary>
public sealed record UserLookup(string? UserName, string? GroupName, bool PrimaryGroupFromPasswd, bool StrictGroups = false)
{
    public static readonly UserLookup None = new(null, null, false);
}

/// <summary>
/// Node-wide block I/O defaults (config.json <c>blockIo</c>). Settable, not init: the JSON source
/// generator sets what the file holds and leaves the rest at these defaults.
/// </summary>
public sealed record BlockIoDefaults
{
    public static BlockIoDefaults None => new();

    /// <summary>blkio.weight / io.weight, 10..1000; null leaves the kernel's default.</summary>
    public ushort? Weight { get; set; }

    public List<BlockIoDeviceWeight> WeightDevice { get; set; } = [];
    public List<BlockIoDeviceRate> ThrottleReadBpsDevice { get; set; } = [];
    public List<BlockIoDeviceRate> ThrottleWriteBpsDevice { get; set; } = [];
    public List<BlockIoDeviceRate> ThrottleReadIopsDevice { get; set; } = [];
    public List<BlockIoDeviceRate> ThrottleWriteIopsDevice { get; set; } = [];
}

/// <summary>A per-device weight: the host path of a block device and 10..1000.</summary>
public sealed record BlockIoDeviceWeight
{
    public string Path { get; set; } = "";
    public ushort Weight { get; set; }
}

/// <summary>A per-device throttle: the host path of a block device and bytes or operations per second.</summary>
public sealed record BlockIoDeviceRate
{
    public string Path { get; set; } = "";
    public ulong Rate { get; set; }
}
