using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V2;

/// <summary>v2 cpuset: cpuset.cpus and cpuset.mems (empty means "the parent's effective set": no copying, unlike v1).</summary>
internal sealed class V2Cpuset : ICgroupController
{
    private readonly string _directory;

    public V2Cpuset(string directory)
    {
        _directory = directory;
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.Cpu is not { } cpu)
        {
            return;
        }
        if (!string.IsNullOrEmpty(cpu.Cpus))
        {
            CgroupFiles.Write(_directory + "/cpuset.cpus", cpu.Cpus, refusedHint: "the set is not within the parent's cpuset");
        }
        if (!string.IsNullOrEmpty(cpu.Mems))
        {
            CgroupFiles.Write(_directory + "/cpuset.mems", cpu.Mems, refusedHint: "the set is not within the parent's cpuset");
        }
    }
}
