using Berth.Api.Cri;
using Berth.Api.Shim;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// Device nodes and the device cgroup. The rules start from "deny everything" and allow what runc
/// allows every container (its specconv.AllowedDevices, which containerd relies on), then the
/// devices kubelet asks for. A privileged container may use every device and gets the host's device
/// nodes in its /dev, as containerd's WithPrivileged gives it (oci.WithHostDevices, WithAllDevicesAllowed).
/// </summary>
internal static class ContainerDevices
{
    private const string AllAccess = "rwm";

    public sealed record Result(IReadOnlyList<LinuxDevice> Nodes, IReadOnlyList<LinuxDeviceCgroup> Rules);

    /// <summary>What runc allows every container: mknod of any node, the standard nodes, ptys and /dev/net/tun.</summary>
    public static readonly IReadOnlyList<LinuxDeviceCgroup> DefaultRules =
    [
        new() { Allow = false, Access = AllAccess },
        new() { Allow = true, Type = "c", Access = "m" },
        new() { Allow = true, Type = "b", Access = "m" },
        Allow('c', 1, 3),    // /dev/null
        Allow('c', 1, 8),    // /dev/random
        Allow('c', 1, 7),    // /dev/full
        Allow('c', 5, 0),    // /dev/tty
        Allow('c', 1, 5),    // /dev/zero
        Allow('c', 1, 9),    // /dev/urandom
        Allow('c', 136, null), // /dev/pts/*
        Allow('c', 5, 2),    // /dev/ptmx
        Allow('c', 10, 200), // /dev/net/tun: runc keeps it for compatibility with Docker-era expectations
    ];

    /// <summary>
    /// Directories of /dev whose nodes a privileged container does not get, as containerd's getDevices
    /// skips them: they are the container's own mounts (pts, shm, mqueue), links to its own descriptors
    /// (fd), or another manager's private state (.lxc, .lxd-mounts, .udev).
    /// </summary>
    public static readonly IReadOnlySet<string> SkippedHostDirectories =
        new HashSet<string>(StringComparer.Ordinal) { "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev" };

    /// <summary>
    /// Whether the host's node <paramref name="name"/> (a file directly in a /dev directory, not a
    /// directory itself) goes to a privileged container: character and block devices only (no FIFOs,
    /// as containerd), except /dev/console (containerd) and /dev/ptmx, which would open the host's
    /// devpts instance: the container's /dev/ptmx is the link to its own pts/ptmx (runc's setupPtmx
    /// replaces the host's node the same way).
    /// </summary>
    public static bool IsHostDevice(string directory, string name, char type) =>
        type is 'c' or 'b' && !(directory == "/dev" && name is "console" or "ptmx");

    /// <summary>The host devices not under one of <paramref name="mounts"/>' binds (a /dev bound from the host already holds its nodes).</summary>
    public static IReadOnlyList<HostDevice> NotOnBinds(IReadOnlyList<HostDevice> devices, IReadOnlyList<OciMount> mounts) =>
        devices.Where(device => !mounts.Any(mount => mount.Type == "bind"
            && (device.Path == mount.Destination || KernelMountPoints.IsBelow(device.Path, mount.Destination)))).ToList();

    /// <summary>
    /// The device nodes and device cgroup rules: for a privileged container every host device
    /// (<paramref name="hostDevices"/>, at its host path) and allow-all, then kubelet's devices, which
    /// replace a host node at the same path.
    /// </summary>
    public static Result For(IEnumerable<Device> devices, bool privileged, Func<string, DeviceLookup> resolve, IReadOnlyList<HostDevice> hostDevices)
    {
        var nodes = new List<LinuxDevice>();
        var rules = privileged
            ? new List<LinuxDeviceCgroup> { new() { Allow = true, Access = AllAccess } }
            : new List<LinuxDeviceCgroup>(DefaultRules);
        foreach (Device device in devices)
        {
            string hostPath = SpecPaths.RequireHostPath(device.HostPath, "device host_path");
            string containerPath = SpecPaths.RequireContainerPath(
                device.ContainerPath.Length > 0 ? device.ContainerPath : device.HostPath, $"device {hostPath} container_path");
            string access = Permissions(device.Permissions, hostPath);
            DeviceNumber number = resolve(hostPath).Require($"device {hostPath}");
            nodes.Add(Node(containerPath, number));
            if (!privileged)
            {
                rules.Add(new LinuxDeviceCgroup { Allow = true, Type = number.Type.ToString(), Major = number.Major, Minor = number.Minor, Access = access });
            }
        }
        var requested = nodes.Select(node => node.Path).ToHashSet(StringComparer.Ordinal);
        var host = hostDevices.Where(device => !requested.Contains(device.Path)).Select(device => Node(device.Path, device.Number));
        return new Result([.. host, .. nodes], rules);
    }

    private static LinuxDevice Node(string path, DeviceNumber number) => new()
    {
        Path = path,
        Type = number.Type.ToString(),
        Major = number.Major,
        Minor = number.Minor,
        FileMode = number.FileMode,
        Uid = number.Uid,
        Gid = number.Gid,
    };

    /// <summary>
    /// A device node is made on the container's own file system only (its /dev tmpfs or its writable
    /// layer): one whose path lies on a bind mount would be made in the host's directory, replacing a
    /// host file there. Refused as written here; the shim refuses it again where an image's links lead it.
    /// </summary>
    public static void RefuseOnBindMounts(IReadOnlyList<LinuxDevice> nodes, IReadOnlyList<OciMount> mounts)
    {
        foreach (LinuxDevice node in nodes)
        {
            if (mounts.FirstOrDefault(mount => mount.Type == "bind"
                    && (node.Path == mount.Destination || KernelMountPoints.IsBelow(node.Path, mount.Destination))) is { } bind)
            {
                throw new SpecException($"device {node.Path} would be made on the bind mount at {bind.Destination}; device nodes go only to the container's own file system");
            }
        }
    }

    /// <summary>Some of r, w, m; empty means all, as kubelet's default.</summary>
    private static string Permissions(string permissions, string hostPath)
    {
        if (permissions.Length == 0)
        {
            return AllAccess;
        }
        if (permissions.Any(c => !AllAccess.Contains(c)) || permissions.Distinct().Count() != permissions.Length)
        {
            throw new SpecException($"device {hostPath} has permissions \"{permissions}\"; expected some of \"rwm\"");
        }
        return permissions;
    }

    private static LinuxDeviceCgroup Allow(char type, long major, long? minor) =>
        new() { Allow = true, Type = type.ToString(), Major = major, Minor = minor, Access = AllAccess };
}
