using System.Text;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Specs;

/// <summary>Which cgroup driver the node uses, as kubelet's --cgroup-driver names them.</summary>
public enum CgroupDriverKind
{
    /// <summary>berth writes the cgroup file system itself.</summary>
    Cgroupfs,

    /// <summary>Pod slices and container scopes are systemd units, made over D-Bus.</summary>
    Systemd,
}

/// <summary>
/// How cgroup paths are formed on this node: the driver, and for systemd the cgroup systemd's own root
/// slice (-.slice) has, which is "" where systemd is the host's PID 1 and a sub-cgroup where it runs in a
/// container (the tests' own systemd).
/// </summary>
public sealed record CgroupNaming(CgroupDriverKind Driver, string SystemdRoot = "")
{
    /// <summary>The cgroupfs driver, berth's default.</summary>
    public static CgroupNaming Cgroupfs { get; } = new(CgroupDriverKind.Cgroupfs);
}

/// <summary>
/// The one formula for a pod's cgroups: the pod cgroup is kubelet's cgroup_parent, or /berth/&lt;sandboxId&gt;
/// (cgroupfs) or berth-&lt;sandboxId&gt;.slice (systemd) for a pod without one (crictl); the sandbox's reaper and
/// each container live in a child named by their ID (<c>berth-&lt;id&gt;.scope</c> inside a slice, as systemd
/// names the scope units runc and CRI-O make), since on cgroup v2 a cgroup with children holds no process.
/// </summary>
public static class CgroupPaths
{
    /// <summary>The parent of the pod cgroups of pods that name none.</summary>
    public const string DefaultParent = "/berth";

    /// <summary>The prefix of the scope units (and of the pod slices berth makes) under the systemd driver.</summary>
    public const string UnitPrefix = "berth";

    /// <summary>
    /// The pod's cgroup: kubelet's cgroup_parent as it is (e.g. /kubepods/burstable/pod&lt;uid&gt;), or
    /// /berth/&lt;sandboxId&gt;. A systemd-driver parent (kubepods-burstable-pod&lt;uid&gt;.slice) is expanded
    /// to the path systemd gives it, so both kubelet drivers land in the same tree. Throws
    /// <see cref="SpecException"/> for a parent that climbs with "..".
    /// </summary>
    public static string Pod(Cri.PodSandboxConfig config, string sandboxId) => Pod(config, sandboxId, CgroupNaming.Cgroupfs);

    /// <summary>
    /// The pod's cgroup under <paramref name="naming"/>. Under the systemd driver the parent must be a slice
    /// name (kubelet's systemd form), expanded below systemd's root; a pod with none gets
    /// berth-&lt;sandboxId&gt;.slice. Throws <see cref="SpecException"/> for a cgroupfs path under systemd, a bad
    /// slice name, or a parent that climbs with "..".
    /// </summary>
    public static string Pod(Cri.PodSandboxConfig config, string sandboxId, CgroupNaming naming)
    {
        string parent = config.Linux?.CgroupParent ?? "";
        if (naming.Driver == CgroupDriverKind.Systemd)
        {
            if (parent.Length == 0)
            {
                parent = $"{UnitPrefix}-{sandboxId}.slice";
            }
            if (parent.Contains('/') || !parent.EndsWith(".slice", StringComparison.Ordinal) || parent == "-.slice")
            {
                throw new SpecException(
                    $"cgroup_parent \"{parent}\" is not a systemd slice name (such as kubepods-burstable-pod<uid>.slice); the node's cgroup driver is systemd, and kubelet's cgroupDriver must be systemd too");
            }
            return naming.SystemdRoot.TrimEnd('/') + ExpandSlice(parent);
        }
        if (parent.Length == 0)
        {
            return $"{DefaultParent}/{sandboxId}";
        }
        if (!parent.Contains('/') && parent.EndsWith(".slice", StringComparison.Ordinal))
        {
            return ExpandSlice(parent);
        }
        if (parent.Split('/').Contains(".."))
        {
            throw new SpecException($"cgroup_parent \"{parent}\" must not contain \"..\"");
        }
        return parent.StartsWith('/') ? parent.TrimEnd('/') : "/" + parent.TrimEnd('/');
    }

    /// <summary>The sandbox reaper's cgroup, a child of the pod's.</summary>
    public static string Sandbox(string podCgroup, string sandboxId) => Child(podCgroup, sandboxId);

    /// <summary>A container's cgroup, a child of the pod's.</summary>
    public static string Container(string podCgroup, string containerId) => Child(podCgroup, containerId);

    /// <summary>Each level of a cgroup path, outermost first: /a/b gives /a and /a/b.</summary>
    public static IEnumerable<string> Levels(string cgroupPath) => SpecPaths.Levels(cgroupPath);

    /// <summary>True when <paramref name="cgroupPath"/> is <paramref name="level"/> or below it.</summary>
    public static bool IsAtOrBelow(string cgroupPath, string level) =>
        cgroupPath == level || cgroupPath.StartsWith(level.TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>The systemd unit a cgroup is, by its last path element (<c>berth-&lt;id&gt;.scope</c>, <c>x-y.slice</c>); null when it is none.</summary>
    public static string? UnitName(string cgroupPath)
    {
        string last = cgroupPath[(cgroupPath.TrimEnd('/').LastIndexOf('/') + 1)..].TrimEnd('/');
        return last.EndsWith(".scope", StringComparison.Ordinal) || last.EndsWith(".slice", StringComparison.Ordinal) ? last : null;
    }

    private static string Child(string podCgroup, string id) =>
        podCgroup.EndsWith(".slice", StringComparison.Ordinal)
            ? $"{podCgroup.TrimEnd('/')}/{UnitPrefix}-{id}.scope"
            : $"{podCgroup.TrimEnd('/')}/{id}";

    /// <summary>systemd's slice nesting: a-b-c.slice lives in /a.slice/a-b.slice/a-b-c.slice.</summary>
    private static string ExpandSlice(string slice)
    {
        string name = slice[..^".slice".Length];
        if (name.Length == 0 || name == "-")
        {
            return "/";
        }
        if (name.StartsWith('-') || name.EndsWith('-') || name.Contains("--", StringComparison.Ordinal))
        {
            throw new SpecException($"cgroup_parent \"{slice}\" is not a valid systemd slice name");
        }
        var path = new StringBuilder();
        string prefix = "";
        foreach (string part in name.Split('-'))
        {
            prefix = prefix.Length == 0 ? part : $"{prefix}-{part}";
            path.Append('/').Append(prefix).Append(".slice");
        }
        return path.ToString();
    }
}
