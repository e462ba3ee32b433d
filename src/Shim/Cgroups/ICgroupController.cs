using Berth.Api.Shim;

namespace Berth.Shim.Cgroups;

/// <summary>
/// One controller of one cgroup version (youki's libcgroups shape): it owns its part of
/// LinuxResources. Instances hold the paths they write, built once. <see cref="CgroupRequests"/>
/// says which controllers a LinuxResources needs, so a limit whose controller the node lacks is
/// refused by name rather than dropped.
/// </summary>
internal interface ICgroupController
{
    /// <summary>Writes the limits this controller owns; values absent from <paramref name="resources"/> are left as they are.</summary>
    void Apply(LinuxResources resources);
}
