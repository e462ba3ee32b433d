using Berth.Api.Shim.Cgroups;
using Berth.Api.Shim;

namespace Berth.Shim.Init;

/// <summary>
/// Builds the container's file system view inside its own (new) mount namespace: the overlay
/// root, config.json's mounts, /dev, pivot_root; then masked and read-only paths. Everything is
/// mounted in the container's namespace only, so it all goes away with the container.
/// </summary>
internal static class RootfsSetup
{
    private const ulong ProcSysFlags = Interop.Sys.MS_NOSUID | Interop.Sys.MS_NODEV | Interop.Sys.MS_NOEXEC;

    /// <summary>Mounts everything and pivots into the root; afterwards "/" is the container's root.</summary>
    public static void MountAndPivot(string bundle, OciSpec spec, ShimOptions options)
    {
        string propagation = spec.Linux?.RootfsPropagation ?? "";
        ulong rootPropagation = propagation.Contains("shared", StringComparison.Ordinal) ? Interop.Sys.MS_SHARED
            : propagation.Contains("private", StringComparison.Ordinal) ? Interop.Sys.MS_PRIVATE
            : Interop.Sys.MS_SLAVE;
        // Nothing done here may propagate back to the host.
        Interop.Sys.Mount(null, "/", null, Interop.Sys.MS_REC | rootPropagation, null);

        string rootfs = Path.GetFullPath(spec.Root?.Path ?? "rootfs", bundle);
        ShimFiles.MakeDirectories(rootfs);
        if (options.Rootfs is { } layers)
        {
            MountOverlay(rootfs, layers);
        }
        else
        {
            // pivot_root needs the new root to be a mount point.
            Interop.Sys.Mount(rootfs, rootfs, null, Interop.Sys.MS_BIND | Interop.Sys.MS_REC, null);
        }
        // pivot_root refuses a new root, or a parent mount of it, with shared propagation: with a
        // bidirectional mount the tree above is rshared, so make both private here (only in this
        // mount namespace), as runc does.
        Interop.Sys.Mount(null, rootfs, null, Interop.Sys.MS_PRIVATE, null);
        Interop.Sys.Mount(null, MountPointOf(Path.GetDirectoryName(rootfs) ?? "/"), null, Interop.Sys.MS_PRIVATE, null);

        bool ownDev = false;
        foreach (OciMount mount in spec.Mounts ?? [])
        {
            MountOne(bundle, rootfs, mount, spec.Linux?.CgroupsPath);
            ownDev |= mount.Destination.TrimEnd('/') == "/dev";
        }
        uint oldUmask = Interop.Sys.Umask(0);
        try
        {
            if (ownDev)
            {
                CreateDefaultDevices(rootfs);
            }
            CreateDevices(rootfs, spec.Linux?.Devices);
        }
        finally
        {
            Interop.Sys.Umask(oldUmask);
        }

        int oldRoot = Interop.Sys.Open("/", Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY);
        Interop.Sys.Chdir(rootfs);
        Interop.Sys.PivotRoot(".", ".");
        // The old root is now stacked on the new one. Step into it (not the new root, whose bidirectional
        // mounts must stay peers of the host's) and detach it without telling the host, as runc does.
        Interop.Sys.Fchdir(oldRoot);
        Interop.Sys.Close(oldRoot);
        Interop.Sys.Mount(null, ".", null, Interop.Sys.MS_SLAVE | Interop.Sys.MS_REC, null);
        Interop.Sys.Unmount(".", Interop.Sys.MNT_DETACH);
        Interop.Sys.Chdir("/");
    }

    /// <summary>The mount point of the mount that holds <paramref name="path"/>, from /proc/self/mountinfo.</summary>
    private static string MountPointOf(string path)
    {
        string best = "/";
        foreach (string line in ShimFiles.ReadText(CgroupMounts.MountInfo).Split('\n'))
        {
            string[] fields = line.Split(' ');
            if (fields.Length < 5)
            {
                continue;
            }
            string mountPoint = CgroupMounts.Unescape(fields[4]);
            bool contains = path == mountPoint || path.StartsWith(mountPoint.TrimEnd('/') + "/", StringComparison.Ordinal);
            if (contains && mountPoint.Length > best.Length)
            {
                best = mountPoint;
            }
        }
        return best;
    }

    /// <summary>After pivot_root (and sysctls): masked and read-only paths, root propagation, read-only root.</summary>
    public static void Finish(OciSpec spec)
    {
        foreach (string path in spec.Linux?.MaskedPaths ?? [])
        {
            Mask(path);
        }
        foreach (string path in spec.Linux?.ReadonlyPaths ?? [])
        {
            MakeReadonly(path);
        }
        if (spec.Linux?.RootfsPropagation is { Length: > 0 } propagation)
        {
            var parsed = MountOptions.Parse([propagation]);
            if (parsed.Propagation != 0)
            {
                Interop.Sys.Mount(null, "/", null, parsed.Propagation, null);
            }
        }
        if (spec.Root?.Readonly == true)
        {
            Interop.Sys.Mount(null, "/", null, Interop.Sys.MS_BIND | Interop.Sys.MS_REMOUNT | Interop.Sys.MS_RDONLY, null);
        }
    }

    private static void MountOverlay(string rootfs, RootfsLayers layers)
    {
        if (layers.LowerDirs.Count == 0)
        {
            // A scratch image: nothing below the writable layer.
            ShimFiles.MakeDirectories(layers.UpperDir);
            Interop.Sys.Mount(layers.UpperDir, rootfs, null, Interop.Sys.MS_BIND | Interop.Sys.MS_REC, null);
            return;
        }
        foreach (string dir in layers.LowerDirs.Append(layers.UpperDir).Append(layers.WorkDir))
        {
            if (dir.Contains(',') || dir.Contains(':'))
            {
                throw new InvalidSpecException($"overlay directory {dir} contains ',' or ':'");
            }
        }
        ShimFiles.MakeDirectories(layers.UpperDir);
        ShimFiles.MakeDirectories(layers.WorkDir);
        string data = $"lowerdir={string.Join(':', layers.LowerDirs)},upperdir={layers.UpperDir},workdir={layers.WorkDir}";
        if (data.Length >= 4096)
        {
            throw new InvalidSpecException($"overlay options for {layers.LowerDirs.Count} layers exceed a page ({data.Length} bytes)");
        }
        Interop.Sys.Mount("overlay", rootfs, "overlay", 0, data);
    }

    private static void MountOne(string bundle, string rootfs, OciMount mount, string? cgroupsPath)
    {
        string destination = PathResolver.MountDestination(rootfs, mount.Destination);
        var options = MountOptions.Parse(mount.Options);
        string type = mount.Type ?? "";
        if (options.Bind || type == "bind")
        {
            string source = Path.GetFullPath(mount.Source ?? throw new InvalidSpecException($"bind mount on {mount.Destination} has no source"), bundle);
            if (Directory.Exists(source))
            {
                ShimFiles.MakeDirectories(destination);
            }
            else
            {
                if (!File.Exists(source))
                {
                    throw new InvalidSpecException($"bind mount source {source} does not exist");
                }
                CreateFile(destination);
            }
            Interop.Sys.Mount(source, destination, null, Interop.Sys.MS_BIND | (options.Recursive ? Interop.Sys.MS_REC : 0), null);
            ulong remount = options.Flags & MountOptions.RemountableFlags;
            if (remount != 0)
            {
                Interop.Sys.Mount(null, destination, null, Interop.Sys.MS_BIND | Interop.Sys.MS_REMOUNT | remount, null);
            }
        }
        else if (type == "cgroup" || type == "cgroup2")
        {
            MountCgroups(destination, options, cgroupsPath);
        }
        else
        {
            ShimFiles.MakeDirectories(destination);
            Interop.Sys.Mount(string.IsNullOrEmpty(mount.Source) ? type : mount.Source, destination, type,
                options.Flags & ~Interop.Sys.MS_REMOUNT, options.Data);
        }
        if (options.Propagation != 0)
        {
            Interop.Sys.Mount(null, destination, null, options.Propagation, null);
        }
    }

    /// <summary>
    /// /sys/fs/cgroup: the container sees its own cgroup. v1: a tmpfs with each host hierarchy's
    /// container directory bound in; v2: the container's directory of the unified tree.
    /// </summary>
    private static void MountCgroups(string destination, MountOptions options, string? cgroupsPath)
    {
        ShimFiles.MakeDirectories(destination);
        ulong readOnly = options.Flags & Interop.Sys.MS_RDONLY;
        string path = (cgroupsPath ?? "").Trim('/');
        var mounts = CgroupMounts.Parse(ShimFiles.ReadText(CgroupMounts.MountInfo));
        if (mounts.Exists(m => m.MountPoint == "/sys/fs/cgroup" && m.IsV2))
        {
            string source = Directory.Exists("/sys/fs/cgroup/" + path) ? "/sys/fs/cgroup/" + path : "/sys/fs/cgroup";
            Interop.Sys.Mount(source, destination, null, Interop.Sys.MS_BIND | Interop.Sys.MS_REC, null);
            Interop.Sys.Mount(null, destination, null, Interop.Sys.MS_BIND | Interop.Sys.MS_REMOUNT | ProcSysFlags | readOnly, null);
            return;
        }
        Interop.Sys.Mount("tmpfs", destination, "tmpfs", ProcSysFlags, "mode=755");
        foreach (var mount in mounts)
        {
            string mountPoint = mount.MountPoint;
            if (!mountPoint.StartsWith("/sys/fs/cgroup/", StringComparison.Ordinal))
            {
                continue;
            }
            string name = mountPoint["/sys/fs/cgroup/".Length..];
            if (name.Contains('/'))
            {
                continue;
            }
            string target = destination + "/" + name;
            ShimFiles.MakeDirectories(target);
            string own = mountPoint + "/" + path;
            // The container's own directory: in each v1 hierarchy and in the hybrid cgroup2 tree, where the shim made it too.
            string source = path.Length > 0 && Directory.Exists(own) ? own : mountPoint;
            Interop.Sys.Mount(source, target, null, Interop.Sys.MS_BIND | Interop.Sys.MS_REC, null);
            Interop.Sys.Mount(null, target, null, Interop.Sys.MS_BIND | Interop.Sys.MS_REMOUNT | ProcSysFlags | readOnly, null);
        }
        if (readOnly != 0)
        {
            Interop.Sys.Mount(null, destination, null, Interop.Sys.MS_REMOUNT | ProcSysFlags | readOnly, "mode=755");
        }
    }

    private static void CreateFile(string path)
    {
        string? parent = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(parent))
        {
            ShimFiles.MakeDirectories(parent);
        }
        if (!File.Exists(path))
        {
            ShimFiles.CreateFile(path);
        }
    }

    private static readonly (string Name, uint Major, uint Minor)[] s_defaultDevices =
    [
        ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
    ];

    private static void CreateDefaultDevices(string rootfs)
    {
        foreach (var (name, major, minor) in s_defaultDevices)
        {
            string path = rootfs + "/dev/" + name;
            if (!File.Exists(path))
            {
                Interop.Sys.Mknod(path, Interop.FileType.CharacterDevice, 0b110_110_110, major, minor);
            }
        }
        (string Link, string Target)[] links =
        [
            ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore"),
        ];
        foreach (var (link, target) in links)
        {
            CreateSymlink(rootfs + "/dev/" + link, target);
        }
        if (Directory.Exists(rootfs + "/dev/pts"))
        {
            CreateSymlink(rootfs + "/dev/ptmx", "pts/ptmx");
        }
    }

    private static void CreateSymlink(string path, string target)
    {
        if (Interop.Sys.TryReadLink(path) is null && !File.Exists(path) && !Directory.Exists(path))
        {
            ShimFiles.CreateSymlink(path, target);
        }
    }

    private static void CreateDevices(string rootfs, IReadOnlyList<LinuxDevice>? devices)
    {
        foreach (LinuxDevice device in devices ?? [])
        {
            string path = PathResolver.SecureJoin(rootfs, device.Path);
            string? parent = Path.GetDirectoryName(path);
            if (!string.IsNullOrEmpty(parent))
            {
                ShimFiles.MakeDirectories(parent);
            }
            Interop.FileType kind = device.Type switch
            {
                "c" or "u" => Interop.FileType.CharacterDevice,
                "b" => Interop.FileType.BlockDevice,
                "p" => Interop.FileType.Fifo,
                _ => throw new InvalidSpecException($"device {device.Path} has unknown type {device.Type}"),
            };
            if (File.Exists(path))
            {
                ShimFiles.Delete(path);
            }
            Interop.Sys.Mknod(path, kind, device.FileMode ?? 0b110_110_110, (uint)device.Major, (uint)device.Minor);
            Interop.Sys.Chown(path, device.Uid ?? 0, device.Gid ?? 0);
        }
    }

    private static void Mask(string path)
    {
        if (Directory.Exists(path))
        {
            Interop.Sys.Mount("tmpfs", path, "tmpfs", Interop.Sys.MS_RDONLY, null);
        }
        else if (File.Exists(path))
        {
            Interop.Sys.Mount("/dev/null", path, null, Interop.Sys.MS_BIND, null);
        }
    }

    private static void MakeReadonly(string path)
    {
        if (!Directory.Exists(path) && !File.Exists(path))
        {
            return;
        }
        Interop.Sys.Mount(path, path, null, Interop.Sys.MS_BIND | Interop.Sys.MS_REC, null);
        Interop.Sys.Mount(null, path, null, Interop.Sys.MS_BIND | Interop.Sys.MS_REMOUNT | Interop.Sys.MS_RDONLY | ProcSysFlags, null);
    }
}
