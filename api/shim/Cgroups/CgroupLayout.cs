namespace Berth.Api.Shim.Cgroups;

/// <summary>
/// What the node mounts under the cgroup root: the v2 unified tree, or v1 hierarchies (and, in
/// hybrid mode, a v2 tree with no controllers beside them, e.g. /sys/fs/cgroup/unified).
/// </summary>
public sealed record CgroupLayout
{
    /// <summary>statfs magic of cgroup2 (CGROUP2_SUPER_MAGIC).</summary>
    public const long Cgroup2SuperMagic = 0x63677270;

    /// <summary>statfs magic of tmpfs (TMPFS_MAGIC), the usual v1 and hybrid root.</summary>
    public const long TmpfsMagic = 0x01021994;

    /// <summary>2 when the root is the unified tree; 1 otherwise (controllers live in v1 hierarchies, hybrid included).</summary>
    public required int Version { get; init; }

    public required string Root { get; init; }

    /// <summary>v1: one mount per hierarchy (named ones such as name=systemd included), under <see cref="Root"/>.</summary>
    public IReadOnlyList<CgroupMount> Hierarchies { get; init; } = [];

    /// <summary>v1 hybrid: the mount point of the controller-less cgroup2 tree; else null.</summary>
    public string? HybridUnified { get; init; }

    /// <summary>Reads the layout of this node: statfs of <paramref name="root"/> and /proc/self/mountinfo.</summary>
    public static CgroupLayout Detect(string? root) => Detect(root, File.ReadAllText(CgroupMounts.MountInfo));

    /// <summary>The layout from statfs of <paramref name="root"/> and a <paramref name="mountinfo"/> text the caller read (the shim reads it itself, so that its errors are in its own words).</summary>
    public static CgroupLayout Detect(string? root, string mountinfo) => Detect(root, CgroupMounts.Parse(mountinfo));

    /// <summary>The layout from statfs of <paramref name="root"/> and the cgroup <paramref name="mounts"/> of a mount table read before.</summary>
    public static CgroupLayout Detect(string? root, IReadOnlyList<CgroupMount> mounts)
    {
        root = string.IsNullOrEmpty(root) ? "/sys/fs/cgroup" : root.TrimEnd('/');
        return Classify(root, Interop.Sys.StatFsType(root), mounts);
    }

    /// <summary>
    /// Every directory a cgroup has on this node, for a cgroupfs path such as
    /// <c>/kubepods/burstable/pod1/abc</c>: the one of the unified tree on v2; on v1 one per hierarchy
    /// (named ones included) and the hybrid cgroup2 tree's, as the shim makes them. A path that is
    /// empty or climbs with ".." has none.
    /// </summary>
    public IReadOnlyList<string> Directories(string cgroupPath)
    {
        string relative = cgroupPath.Trim('/');
        if (relative.Length == 0 || relative.Split('/').Contains(".."))
        {
            return [];
        }
        if (Version == 2)
        {
            return [$"{Root}/{relative}"];
        }
        var directories = Hierarchies.Select(hierarchy => $"{hierarchy.MountPoint}/{relative}").ToList();
        if (HybridUnified is { } unified)
        {
            directories.Add($"{unified}/{relative}");
        }
        return directories;
    }

    /// <summary>
    /// The decision, pure: cgroup2 magic at the root means v2; otherwise (tmpfs, the usual case) the
    /// v1 hierarchies mounted directly below the root, one per device, plus a cgroup2 mount there
    /// (hybrid). A root that is itself a lone v1 hierarchy counts as v1 too.
    /// </summary>
    public static CgroupLayout Classify(string root, long rootMagic, IReadOnlyList<CgroupMount> mounts)
    {
        if (rootMagic == Cgroup2SuperMagic)
        {
            return new CgroupLayout { Version = 2, Root = root };
        }
        var hierarchies = new List<CgroupMount>();
        var devices = new HashSet<string>(StringComparer.Ordinal);
        string? unified = null;
        foreach (CgroupMount mount in mounts)
        {
            bool below = mount.MountPoint == root || IsDirectChild(root, mount.MountPoint);
            if (!below)
            {
                continue;
            }
            if (mount.IsV2)
            {
                unified ??= mount.MountPoint == root ? null : mount.MountPoint;
            }
            else if (mount.IsV1 && devices.Add(mount.Device))
            {
                hierarchies.Add(mount);
            }
        }
        if (hierarchies.Count == 0)
        {
            throw new NotSupportedException($"no cgroup hierarchy is mounted at or below {root} (statfs magic 0x{rootMagic:x})");
        }
        return new CgroupLayout { Version = 1, Root = root, Hierarchies = hierarchies, HybridUnified = unified };
    }

    private static bool IsDirectChild(string root, string path) =>
        path.Length > root.Length + 1 && path.StartsWith(root, StringComparison.Ordinal) && path[root.Length] == '/'
        && path.IndexOf('/', root.Length + 1) < 0;
}
