using Berth.Api.Shim.Cgroups;
using Berth.Shim.Cgroups.V1;
using Berth.Shim.Cgroups.V2;

namespace Berth.Shim.Cgroups;

/// <summary>Chooses the cgroup implementation for this node from its layout (see <see cref="CgroupLayout.Classify"/>).</summary>
internal static class CgroupManagerFactory
{
    /// <summary>
    /// The manager for the layout at <paramref name="root"/>, from <paramref name="mounts"/> (berthd's, in
    /// shim.json) or else this process's mount table; throws <see cref="CgroupUnsupportedException"/> where
    /// no cgroup file system is mounted.
    /// </summary>
    public static ICgroupManager Detect(string? root, IReadOnlyList<CgroupMount>? mounts = null)
    {
        CgroupLayout layout;
        try
        {
            layout = mounts is null
                ? CgroupLayout.Detect(root, ShimFiles.ReadText(CgroupMounts.MountInfo))
                : CgroupLayout.Detect(root, mounts);
        }
        catch (NotSupportedException e)
        {
            throw new CgroupUnsupportedException(e.Message, root);
        }
        return For(layout);
    }

    public static ICgroupManager For(CgroupLayout layout) =>
        layout.Version == 2 ? new CgroupV2Manager(layout) : new CgroupV1Manager(layout);
}
