namespace Berth.Api.Shim.Cgroups;

/// <summary>
/// Which files of a container's cgroup v2 directory <c>linux.resources.unified</c> may write: the
/// interface files of a controller enabled for it, and the two core files that only limit the
/// container's own subtree. Every other core file is refused, because writing it acts on processes
/// or on the tree itself rather than setting a limit: cgroup.procs and cgroup.threads move any
/// process of the node in, cgroup.kill kills, cgroup.freeze stops, cgroup.subtree_control and
/// cgroup.type reshape the tree. runc writes whatever it is given (libcontainer fs2 setUnified);
/// Berth checks the key in spec generation (InvalidArgument) and again in the shim.
/// </summary>
public static class UnifiedKeys
{
    /// <summary>The cgroup v2 controllers (Documentation/admin-guide/cgroup-v2.rst).</summary>
    public static IReadOnlySet<string> Controllers { get; } =
        new HashSet<string>(StringComparer.Ordinal) { "cpu", "cpuset", "io", "memory", "hugetlb", "pids", "rdma", "misc" };

    /// <summary>The core files a container may set: limits on how many and how deep cgroups below it may be.</summary>
    public static IReadOnlySet<string> CoreLimits { get; } =
        new HashSet<string>(StringComparer.Ordinal) { "cgroup.max.descendants", "cgroup.max.depth" };

    /// <summary>
    /// What is wrong with <paramref name="key"/> whatever the node (a fault of the request: InvalidArgument
    /// on every path), or null when it names a file a container may write. Whether the cgroup has the key's
    /// controller is the node's matter (<see cref="MissingController"/>).
    /// </summary>
    public static string? Problem(string key)
    {
        if (key.Length == 0 || key.Contains('/') || key.Contains('\0') || key[0] == '.')
        {
            return $"unified key \"{key}\" is not a file name of the cgroup's directory";
        }
        int dot = key.IndexOf('.');
        string controller = dot > 0 ? key[..dot] : "";
        if (controller == "cgroup")
        {
            return CoreLimits.Contains(key)
                ? null
                : $"unified key \"{key}\" is a cgroup core file, which acts on processes or on the cgroup tree; of those only {string.Join(" and ", CoreLimits)} may be set";
        }
        if (!Controllers.Contains(controller) || dot == key.Length - 1)
        {
            return $"unified key \"{key}\" is not CONTROLLER.FILE of a cgroup v2 controller ({string.Join(", ", Controllers)})";
        }
        return null;
    }

    /// <summary>
    /// The controller a valid <paramref name="key"/> needs when <paramref name="enabled"/> (the cgroup's
    /// cgroup.controllers) lacks it, else null (the core limits need none). A fault of the node, not of
    /// the request: FailedPrecondition on every path, as a typed limit whose controller is missing.
    /// </summary>
    public static string? MissingController(string key, IReadOnlySet<string> enabled)
    {
        int dot = key.IndexOf('.');
        string controller = dot > 0 ? key[..dot] : "";
        return controller == "cgroup" || enabled.Contains(controller) ? null : controller;
    }
}
