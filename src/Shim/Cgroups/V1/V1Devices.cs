using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V1;

/// <summary>
/// v1 devices: "a" to devices.deny, then each rule of the spec to devices.allow or devices.deny,
/// then runc's default rules (<see cref="CgroupConversions.DeviceRules"/>). On an update of
/// a running container this briefly denies everything between the first write and the allows;
/// runc avoids that with a rule emulator that writes only the difference, which is left for later
/// (kubelet's UpdateContainerResources never sends devices).
/// </summary>
internal sealed class V1Devices : ICgroupController
{
    private readonly string _allow;
    private readonly string _deny;

    public V1Devices(string directory)
    {
        _allow = directory + "/devices.allow";
        _deny = directory + "/devices.deny";
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.Devices is not { } rules)
        {
            return;
        }
        foreach (DeviceRule rule in CgroupConversions.DeviceRules(rules))
        {
            CgroupFiles.Write(rule.Allow ? _allow : _deny, rule.Line,
                refusedHint: "a cgroup cannot allow what its parent denies, nor allow \"a\" under a restricted parent");
        }
    }
}
