using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V1;

/// <summary>v1 cpuacct: no limits, the cgroup's CPU time in nanoseconds (cpuacct.usage) for stats.</summary>
internal sealed class V1CpuAcct : ICgroupController
{
    private readonly string _usage;

    public V1CpuAcct(string directory)
    {
        _usage = directory + "/cpuacct.usage";
    }


    public void Apply(LinuxResources resources)
    {
    }

    public void ReadStats(ref CgroupStatsBuilder stats, Span<byte> buffer)
    {
        if (CgroupFiles.TryReadUInt64(_usage, buffer, out ulong usage))
        {
            stats.CpuUsageNanos = usage;
        }
    }
}
