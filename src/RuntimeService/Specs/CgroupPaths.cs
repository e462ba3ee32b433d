using System.Text;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// The one formula for a pod's cgroups (cgroupfs layout): the pod cgroup is kubelet's cgroup_parent,
/// or /berth/&lt;sandboxId&gt; for a pod without one (crictl); the sandbox's reaper and each container
/// live in a child named by their ID, since on cgroup v2 a cgroup with children holds no process.
/// </summary>
public static class CgroupPaths
{
    /// <summary>The parent of the pod cgroups of pods that name none.</summary>
    public const string DefaultParent = "/berth";

    /// <summary>
    /// The pod's cgroup: kubelet's cgroup_parent as it is (e.g. /kubepods/burstable/pod&lt;uid&gt;), or
    /// /berth/&lt;sandboxId&gt;. A systemd-driver parent (kubepods-burstable-pod&lt;uid&gt;.slice) is expanded
    /// to the path systemd gives it, so both kubelet drivers land in the same tree. Throws
    /// <see cref="SpecException"/> for a parent that climbs with "..".
    /// </summary>
    public static string Pod(Cri.PodSandboxConfig config, string sandboxId)
    {
        string parent = config.Linux?.CgroupParent ?? "";
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

    private static string Child(string podCgroup, string id) => $"{podCgroup.TrimEnd('/')}/{id}";

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
