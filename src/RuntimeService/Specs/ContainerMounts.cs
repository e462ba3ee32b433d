using Berth.Api.Cri;
using Berth.Api.Shim;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// A container's mounts, in containerd's order: the kernel file systems every container gets, then
/// the pod's shared files and kubelet's mounts sorted so that a parent is mounted before its children.
/// Image-defined VOLUMEs that no CRI mount covers are not mounted (containerd's
/// ignore_image_defined_volumes): their directories stay part of the writable layer.
/// </summary>
internal static class ContainerMounts
{
    public const string EtcHosts = "/etc/hosts";
    public const string EtcResolvConf = "/etc/resolv.conf";
    public const string EtcHostname = "/etc/hostname";
    public const string DevShm = "/dev/shm";
    private const string HostDevShm = "/dev/shm";

    // Extra options kubelet may ask for through Mount.mount_options: ones that only take rights away.
    private static readonly HashSet<string> s_allowedExtraOptions = new(StringComparer.Ordinal)
    {
        "nosuid", "nodev", "noexec", "noatime", "nodiratime", "relatime", "strictatime", "nosymfollow",
    };

    public sealed record Result(IReadOnlyList<OciMount> Mounts, string? RootfsPropagation);

    public static Result For(ContainerConfig config, SandboxFiles files, PodNamespaces pod, bool privileged, bool readonlyRootfs)
    {
        var requested = new List<(string Destination, Mount Mount)>();
        var destinations = new HashSet<string>(StringComparer.Ordinal);
        foreach (Mount mount in config.Mounts)
        {
            string destination = SpecPaths.RequireContainerPath(mount.ContainerPath, "mount container_path");
            if (!destinations.Add(destination))
            {
                throw new SpecException($"two mounts have the container path {destination}");
            }
            RefuseKernelFileSystems(destination, mount, privileged);
            requested.Add((destination, mount));
        }

        // The pod's shared files, unless kubelet mounts its own there (its managed /etc/hosts does).
        var podFiles = new List<(string Destination, Mount Mount)>();
        void AddPodFile(string destination, string source, bool readOnly)
        {
            if (!destinations.Contains(destination))
            {
                podFiles.Add((destination, new Mount { ContainerPath = destination, HostPath = source, Readonly = readOnly }));
            }
        }
        AddPodFile(DevShm, pod.HostIpc ? HostDevShm : files.ShmPath, readOnly: false);
        AddPodFile(EtcHosts, files.HostsPath, readonlyRootfs);
        AddPodFile(EtcResolvConf, files.ResolvConfPath, readonlyRootfs);
        AddPodFile(EtcHostname, files.HostnamePath, readonlyRootfs);

        var binds = podFiles.Concat(requested).ToList();
        var bindDestinations = binds.Select(bind => bind.Destination).ToHashSet(StringComparer.Ordinal);
        bool devReplaced = bindDestinations.Contains("/dev");

        var mounts = new List<OciMount>();
        foreach (OciMount mount in KernelMounts(privileged))
        {
            if (bindDestinations.Contains(mount.Destination) ||
                (devReplaced && mount.Destination.StartsWith("/dev/", StringComparison.Ordinal)))
            {
                continue;
            }
            mounts.Add(mount);
        }

        string? rootfsPropagation = null;
        // OrderBy is stable: equally deep mounts keep their order, as containerd's sort.Stable does.
        foreach (var (destination, mount) in binds.OrderBy(bind => SpecPaths.Depth(bind.Destination)))
        {
            mounts.Add(Bind(destination, mount, ref rootfsPropagation));
        }
        return new Result(mounts, rootfsPropagation);
    }

    /// <summary>
    /// No mount covers a kernel file (<see cref="KernelMountPoints"/>): inside /proc only lxcfs's files,
    /// as runc allows; /proc itself only the host's /proc (the shim checks it is a procfs); inside /sys
    /// only lxcfs's CPU list, except for a privileged container, whose /sys is writable anyway. The shim
    /// applies the same rules where an image's links lead a destination.
    /// </summary>
    private static void RefuseKernelFileSystems(string destination, Mount mount, bool privileged)
    {
        if (destination == "/proc" && mount.HostPath != "/proc")
        {
            throw new SpecException($"mount {destination}: only the host's /proc may be mounted on /proc");
        }
        if (KernelMountPoints.CoversProcFile(destination))
        {
            throw new SpecException($"mount {destination} is inside /proc; only {string.Join(", ", KernelMountPoints.LxcfsProcFiles)} may be mounted over");
        }
        if (!privileged && KernelMountPoints.CoversSysFile(destination))
        {
            throw new SpecException($"mount {destination} is inside /sys, which only a privileged container may mount over (or {KernelMountPoints.LxcfsSysFile})");
        }
    }

    /// <summary>The kernel file systems of every container (containerd's defaultMounts without /run and the tmpfs /dev/shm).</summary>
    private static IEnumerable<OciMount> KernelMounts(bool privileged)
    {
        // A privileged container may write /sys and its cgroups (containerd's WithWriteableSysfs and WithWriteableCgroupfs).
        string access = privileged ? "rw" : "ro";
        yield return new OciMount { Destination = "/proc", Type = "proc", Source = "proc", Options = ["nosuid", "noexec", "nodev"] };
        yield return new OciMount { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] };
        yield return new OciMount
        {
            Destination = "/dev/pts", Type = "devpts", Source = "devpts",
            Options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        };
        yield return new OciMount { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] };
        yield return new OciMount { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["nosuid", "noexec", "nodev", access] };
        yield return new OciMount
        {
            Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup",
            Options = ["nosuid", "noexec", "nodev", "relatime", access],
        };
    }

    /// <summary>
    /// One bind mount, recursive as containerd makes them. Propagation follows kubelet's request and
    /// raises the root's propagation so that it can work (rshared for bidirectional, else rslave).
    /// The daemon, not this code, makes sure the host path exists and that a propagating source is itself
    /// on a shared or slave mount (<see cref="PropagatedSource.Require"/>). selinux_relabel is ignored:
    /// Berth sets no SELinux labels.
    /// </summary>
    private static OciMount Bind(string destination, Mount mount, ref string? rootfsPropagation)
    {
        if (mount.Image is not null)
        {
            throw new SpecException(mount.HostPath.Length > 0
                ? $"mount {destination} names both a host_path and an image; a mount takes one of them"
                : $"mount {destination} is an image volume; image volumes are not supported yet");
        }
        string source = SpecPaths.RequireHostPath(mount.HostPath, $"mount {destination} host_path");
        if (mount.UidMappings.Count > 0 || mount.GidMappings.Count > 0)
        {
            throw new SpecException($"mount {destination} asks for id-mapping; id-mapped mounts are not supported yet");
        }
        var options = new List<string> { "rbind" };
        switch (mount.Propagation)
        {
            case MountPropagation.PropagationPrivate:
                options.Add("rprivate");
                break;
            case MountPropagation.PropagationHostToContainer:
                options.Add("rslave");
                if (rootfsPropagation != "rshared")
                {
                    rootfsPropagation = "rslave";
                }
                break;
            case MountPropagation.PropagationBidirectional:
                options.Add("rshared");
                rootfsPropagation = "rshared";
                break;
            default:
                throw new SpecException($"mount {destination} has unknown propagation {mount.Propagation}");
        }
        if (mount.RecursiveReadOnly)
        {
            if (!mount.Readonly)
            {
                throw new SpecException($"mount {destination}: recursive_read_only needs readonly");
            }
            if (mount.Propagation != MountPropagation.PropagationPrivate)
            {
                throw new SpecException($"mount {destination}: recursive_read_only needs private propagation, not {mount.Propagation}");
            }
            // "ro" makes the top mount read-only; "rro" (mount_setattr, as runc) the mounts below it too.
            options.Add("ro");
            options.Add("rro");
        }
        else
        {
            options.Add(mount.Readonly ? "ro" : "rw");
        }
        foreach (string option in mount.MountOptions)
        {
            if (!s_allowedExtraOptions.Contains(option))
            {
                throw new SpecException($"mount {destination}: mount option \"{option}\" is not one of {string.Join(", ", s_allowedExtraOptions)}");
            }
            if (!options.Contains(option))
            {
                options.Add(option);
            }
        }
        return new OciMount { Destination = destination, Type = "bind", Source = source, Options = options };
    }
}
