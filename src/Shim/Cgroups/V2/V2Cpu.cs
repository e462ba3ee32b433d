using System.Globalization;
using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V2;

/// <summary>
/// v2 cpu: cpu.weight (from shares, runc's conversion), cpu.max ("quota period" or "max period"),
/// cpu.max.burst, cpu.idle. v2 has no realtime group budget: an rt request is refused.
/// </summary>
internal sealed class V2Cpu : ICgroupController
{
    private readonly string _directory;

    public V2Cpu(string directory)
    {
        _directory = directory;
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.Cpu is not { } cpu)
        {
            return;
        }
        if (cpu.RealtimeRuntime is not (null or 0) || cpu.RealtimePeriod is not (null or 0))
        {
            throw new CgroupUnsupportedException("cgroup v2 has no realtime group scheduling (cpu.rt_runtime_us, cpu.rt_period_us are v1 only)");
        }
        if (CgroupConversions.CpuSharesToWeight(cpu.Shares ?? 0) is var weight and not 0)
        {
            CgroupFiles.Write(_directory + "/cpu.weight", weight.ToString(CultureInfo.InvariantCulture));
        }
        if (CgroupConversions.CpuMax(cpu.Quota, cpu.Period) is { } max)
        {
            CgroupFiles.Write(_directory + "/cpu.max", max, refusedHint: "the quota must be at least 1000 us and the period 1000 us to 1 s");
        }
        if (cpu.Burst is { } burst)
        {
            CgroupFiles.Write(_directory + "/cpu.max.burst", burst.ToString(CultureInfo.InvariantCulture), missingHint: "CFS burst needs Linux 5.14");
        }
        if (cpu.Idle is { } idle)
        {
            CgroupFiles.Write(_directory + "/cpu.idle", idle.ToString(CultureInfo.InvariantCulture), missingHint: "SCHED_IDLE cgroups need Linux 5.15");
        }
    }
}
