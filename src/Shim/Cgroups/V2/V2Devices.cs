using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V2;

/// <summary>
/// v2 devices: the rule list v1 would write (<see cref="CgroupConversions.DeviceRules"/>) compiled into
/// an eBPF program (<see cref="DeviceFilterProgram"/>), loaded and attached to the cgroup's directory,
/// as runc and youki do. If the kernel refuses it, the cgroup is not set up: a container never runs
/// with device rules that are not enforced. An update attaches the new program beside the old one
/// (BPF_F_ALLOW_MULTI: a device must pass both), so it can only take rights away; kubelet's
/// UpdateContainerResources never sends devices.
/// </summary>
internal sealed class V2Devices : ICgroupController
{
    private readonly string _directory;

    public V2Devices(string directory)
    {
        _directory = directory;
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.Devices is not { } rules)
        {
            return;
        }
        ulong[] program = DeviceFilterProgram.Encode(DeviceFilterProgram.Generate(CgroupConversions.DeviceRules(rules)));
        using var cgroup = Interop.Sys.OpenAt(Interop.Sys.AtFdCwd, _directory, Interop.OpenFlags.Directory | Interop.OpenFlags.CloseOnExec);
        using var filter = Interop.Sys.LoadCgroupDeviceProgram(program, DeviceFilterProgram.License);
        Interop.Sys.AttachCgroupDeviceProgram(cgroup, filter, _directory);
    }
}
