using Berth.Api.Shim.Cgroups;
using Berth.Api.Shim;
using Microsoft.Win32.SafeHandles;

namespace Berth.Shim.Init;

/// <summary>
/// Builds the container's file system view inside its own (new) mount namespace: the overlay
/// root, config.json's mounts, /dev, pivot_root; then masked and read-only paths. Everything is
/// mounted in the container's namespace only, so it all goes away with the container.
/// </summary>
internal static class RootfsSetup
{
    private const ulong ProcSysFlags = Interop.Sys.MS_NOSUID | Interop.Sys.MS_NODEV | Interop.Sys.MS_NOEXEC;

    /// <summary>
    /// Mounts everything and pivots into the root; afterwards "/" is the container's root. <paramref name="beforePivot"/>
    /// runs once the mounts and devices are made, before pivot_root: where runc runs the createRuntime and
    /// createContainer hooks.
    /// </summary>
    public static void MountAndPivot(string bundle, OciSpec spec, ShimOptions options, Action beforePivot)
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

        bool devTmpfs = false;
        using (var root = new ContainerRoot(rootfs))
        {
            foreach (OciMount mount in spec.Mounts ?? [])
            {
                MountOne(bundle, root, mount, spec.Linux?.CgroupsPath, options.CgroupMounts);
                devTmpfs = mount.Destination.TrimEnd('/') == "/dev" ? mount.Type == "tmpfs" : devTmpfs;
            }
            uint oldUmask = Interop.Sys.Umask(0);
            try
            {
                if (devTmpfs)
                {
                    CreateDefaultDevices(rootfs);
                }
                CreateDevices(root, spec.Linux?.Devices, devTmpfs);
            }
            finally
            {
                Interop.Sys.Umask(oldUmask);
            }
        }

        beforePivot();
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

    /// <summary>
    /// One config.json mount. Its destination is resolved inside the root (links followed as if the
    /// root were "/"), checked against /proc and /sys (<see cref="ProcSysMounts"/>), made and opened
    /// by <see cref="ContainerRoot"/>, and mounted through that descriptor. A bind is cloned detached
    /// (open_tree), given its flags (and "rro": read-only all the way down, mount_setattr AT_RECURSIVE)
    /// while nobody can see it, then attached (move_mount).
    /// </summary>
    /// <param name="cgroupMounts">The node's cgroup mounts from shim.json; null: read from the mount table.</param>
    private static void MountOne(string bundle, ContainerRoot root, OciMount mount, string? cgroupsPath, IReadOnlyList<CgroupMount>? cgroupMounts)
    {
        string resolved = PathResolver.MountDestination(root.Path, mount.Destination);
        string containerPath = resolved[root.Path.Length..];
        var options = MountOptions.Parse(mount.Options);
        string type = mount.Type ?? "";
        bool bind = options.Bind || type == "bind";
        string? source = bind
            ? Path.GetFullPath(mount.Source ?? throw new InvalidSpecException($"bind mount on {mount.Destination} has no source"), bundle)
            : null;
        bool procfs = source is not null ? Interop.Sys.StatFsType(source) == ProcSuperMagic : type == "proc";
        if (ProcSysMounts.Refusal(Path.GetFullPath(mount.Destination), containerPath, procfs) is { } refusal)
        {
            throw new InvalidSpecException(refusal);
        }
        if (source is not null)
        {
            bool directory = Directory.Exists(source);
            if (!directory && !File.Exists(source))
            {
                throw new InvalidSpecException($"bind mount source {source} does not exist");
            }
            using var target = root.OpenTarget(containerPath, directory);
            using var tree = Interop.Sys.CloneMount(source, options.Recursive);
            var (set, clear) = MountOptions.Attributes(options.Flags & MountOptions.RemountableFlags, options.ClearedFlags);
            Interop.Sys.SetMountAttributes(tree, set, clear, recursive: false, mount.Destination);
            if (options.RecursiveReadOnly)
            {
                Interop.Sys.SetMountAttributes(tree, Interop.MountAttributes.ReadOnly, 0, recursive: true, mount.Destination);
            }
            Interop.Sys.AttachMount(tree, target, mount.Destination);
            if (options.Propagation != 0)
            {
                Interop.Sys.Mount(null, ContainerRoot.ProcPath(tree), null, options.Propagation, null);
            }
            return;
        }
        if (type == "cgroup" || type == "cgroup2")
        {
            MountCgroups(root, containerPath, options, cgroupsPath, cgroupMounts ?? CgroupMounts.Parse(ShimFiles.ReadText(CgroupMounts.MountInfo)));
            return;
        }
        using (var target = root.OpenTarget(containerPath, directory: true))
        {
            Interop.Sys.Mount(string.IsNullOrEmpty(mount.Source) ? type : mount.Source, ContainerRoot.ProcPath(target), type,
                options.Flags & ~Interop.Sys.MS_REMOUNT, options.Data);
        }
        if (options.Propagation != 0)
        {
            // The descriptor above is of the covered directory: the new mount is reached by opening the path again.
            using var mounted = root.OpenTarget(containerPath, directory: true);
            Interop.Sys.Mount(null, ContainerRoot.ProcPath(mounted), null, options.Propagation, null);
        }
    }

    /// <summary>statfs magic of procfs (PROC_SUPER_MAGIC): what a bind on /proc must be.</summary>
    private const long ProcSuperMagic = 0x9fa0;

    /// <summary>
    /// /sys/fs/cgroup: the container sees its own cgroup. v1: a tmpfs with each host hierarchy's
    /// container directory bound in; v2: the container's directory of the unified tree.
    /// </summary>
    private static void MountCgroups(ContainerRoot root, string containerPath, MountOptions options, string? cgroupsPath, IReadOnlyList<CgroupMount> mounts)
    {
        var readOnly = (options.Flags & Interop.Sys.MS_RDONLY) != 0 ? Interop.MountAttributes.ReadOnly : 0;
        var flags = Interop.MountAttributes.NoSuid | Interop.MountAttributes.NoDev | Interop.MountAttributes.NoExec | readOnly;
        string path = (cgroupsPath ?? "").Trim('/');
        using var target = root.OpenTarget(containerPath, directory: true);
        if (mounts.Any(m => m.MountPoint == "/sys/fs/cgroup" && m.IsV2))
        {
            string source = Directory.Exists("/sys/fs/cgroup/" + path) ? "/sys/fs/cgroup/" + path : "/sys/fs/cgroup";
            BindDetached(source, target, flags, containerPath);
            return;
        }
        Interop.Sys.Mount("tmpfs", ContainerRoot.ProcPath(target), "tmpfs", ProcSysFlags, "mode=755");
        // The descriptor above is of the covered directory; the tmpfs is reached by opening the path again.
        using var tmpfs = root.OpenTarget(containerPath, directory: true);
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
            using var hierarchy = root.OpenTarget(containerPath + "/" + name, directory: true);
            string own = mountPoint + "/" + path;
            // The container's own directory: in each v1 hierarchy and in the hybrid cgroup2 tree, where the shim made it too.
            BindDetached(path.Length > 0 && Directory.Exists(own) ? own : mountPoint, hierarchy, flags, containerPath + "/" + name);
        }
        if (readOnly != 0)
        {
            Interop.Sys.SetMountAttributes(tmpfs, readOnly, 0, recursive: false, containerPath);
        }
    }

    /// <summary>A recursive bind of the host's <paramref name="source"/> with <paramref name="flags"/>, made detached and attached on <paramref name="target"/>.</summary>
    private static void BindDetached(string source, SafeFileHandle target, Interop.MountAttributes flags, string what)
    {
        using var tree = Interop.Sys.CloneMount(source, recursive: true);
        Interop.Sys.SetMountAttributes(tree, flags, 0, recursive: false, what);
        Interop.Sys.AttachMount(tree, target, what);
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

    /// <summary>
    /// The spec's device nodes, each made only on the container's own file system: its writable layer,
    /// or its /dev when that is the tmpfs the spec mounts. A node whose directory is on another mount
    /// (a bind of a host directory: /data/f over a volume) is refused, so a device never replaces a
    /// host's file. The directory is opened inside the root (<see cref="ContainerRoot"/>) and the node
    /// made and owned through it.
    /// </summary>
    private static void CreateDevices(ContainerRoot root, IReadOnlyList<LinuxDevice>? devices, bool devTmpfs)
    {
        if (devices is not { Count: > 0 })
        {
            return;
        }
        var own = new HashSet<ulong> { root.MountId };
        if (devTmpfs && root.TryOpen("/dev") is { } dev)
        {
            using (dev)
            {
                own.Add(Interop.Sys.MountIdOf(dev, "/dev"));
            }
        }
        foreach (LinuxDevice device in devices)
        {
            Interop.FileType kind = device.Type switch
            {
                "c" or "u" => Interop.FileType.CharacterDevice,
                "b" => Interop.FileType.BlockDevice,
                "p" => Interop.FileType.Fifo,
                _ => throw new InvalidSpecException($"device {device.Path} has unknown type {device.Type}"),
            };
            string containerPath = PathResolver.MountDestination(root.Path, device.Path)[root.Path.Length..];
            int slash = containerPath.LastIndexOf('/');
            string name = containerPath[(slash + 1)..];
            using var parent = root.OpenTarget(slash == 0 ? "/" : containerPath[..slash], directory: true);
            if (!own.Contains(Interop.Sys.MountIdOf(parent, containerPath)))
            {
                throw new InvalidSpecException(
                    $"device {device.Path} would be made on a mount that is not the container's own file system (a bind mount); device nodes go only to its /dev or its writable layer");
            }
            try
            {
                Interop.Sys.UnlinkAt(parent, name);
            }
            catch (ErrnoException e) when (e.Error == Interop.Errno.ENOENT)
            {
            }
            Interop.Sys.MknodAt(parent, name, kind, (UnixFileMode)(device.FileMode ?? 0b110_110_110) & (UnixFileMode)0xFFF,
                (uint)device.Major, (uint)device.Minor);
            Interop.Sys.LChownAt(parent, name, device.Uid ?? 0, device.Gid ?? 0);
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
