using Berth.Shim.Cgroups.V1;
using Berth.Shim.Cgroups.V2;

namespace Berth.Shim.Cgroups;

/// <summary>Chooses the cgroup implementation for this node from its layout (see <see cref="CgroupLayout.Classify"/>).</summary>
internal static class CgroupManagerFactory
{
    public static ICgroupManager Detect(string? root) => For(CgroupLayout.Detect(root));

    public static ICgroupManager For(CgroupLayout layout) =>
        layout.Version == 2 ? new CgroupV2Manager(layout) : new CgroupV1Manager(layout);
}
