namespace Berth.Shim.CgroupsMinimal;

using Berth.Shim.Cgroups;

/// <summary>Chooses the cgroup implementation for this node: v2 when the root is the unified hierarchy, else v1.</summary>
internal static class CgroupManagerFactory
{
    public static ICgroupManager Detect(string? root)
    {
        root = string.IsNullOrEmpty(root) ? "/sys/fs/cgroup" : root.TrimEnd('/');
        var mounts = CgroupFiles.Mounts();
        foreach (var (mountPoint, type, _) in mounts)
        {
            if (mountPoint == root && type == "cgroup2")
            {
                return new MinimalCgroupV2Manager(root);
            }
        }
        return new MinimalCgroupV1Manager(root, mounts);
    }
}
