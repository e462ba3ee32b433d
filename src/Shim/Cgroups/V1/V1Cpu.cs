using System.Globalization;
using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V1;

/// <summary>
/// v1 cpu: shares, CFS quota, period and burst, idle, and the realtime budget (rt_period_us,
/// rt_runtime_us: present only with CONFIG_RT_GROUP_SCHED).
/// </summary>
internal sealed class V1Cpu : ICgroupController
{
    private readonly string _directory;

    public V1Cpu(string directory)
    {
        _directory = directory;
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.Cpu is not { } cpu)
        {
            return;
        }
        if (cpu.Shares is { } shares and not 0)
        {
            CgroupFiles.Write(_directory + "/cpu.shares", shares.ToString(CultureInfo.InvariantCulture));
        }
        // Period first; the kernel refuses (EINVAL) a shorter period while the old quota/period would
        // exceed the parent's bandwidth, so then the quota goes first and the period after, as runc does.
        string? pendingPeriod = null;
        if (cpu.Period is { } period and not 0)
        {
            string text = period.ToString(CultureInfo.InvariantCulture);
            Interop.Errno error = CgroupFiles.TryWrite(_directory + "/cpu.cfs_period_us", text);
            if (error == Interop.Errno.EINVAL && cpu.Quota is not (null or 0))
            {
                pendingPeriod = text;
            }
            else if (error != 0)
            {
                CgroupFiles.Write(_directory + "/cpu.cfs_period_us", text);
            }
        }
        if (cpu.Quota is { } quota and not 0)
        {
            CgroupFiles.Write(_directory + "/cpu.cfs_quota_us", quota < 0 ? "-1" : quota.ToString(CultureInfo.InvariantCulture),
                refusedHint: "the quota exceeds the parent's bandwidth, or is below 1 ms");
            if (pendingPeriod is not null)
            {
                CgroupFiles.Write(_directory + "/cpu.cfs_period_us", pendingPeriod);
            }
        }
        if (cpu.Burst is { } burst)
        {
            CgroupFiles.Write(_directory + "/cpu.cfs_burst_us", burst.ToString(CultureInfo.InvariantCulture), missingHint: "CFS burst needs Linux 5.14");
        }
        if (cpu.Idle is { } idle)
        {
            CgroupFiles.Write(_directory + "/cpu.idle", idle.ToString(CultureInfo.InvariantCulture), missingHint: "SCHED_IDLE cgroups need Linux 5.15");
        }
        const string NoRt = "the kernel was built without CONFIG_RT_GROUP_SCHED";
        if (cpu.RealtimePeriod is { } rtPeriod and not 0)
        {
            CgroupFiles.Write(_directory + "/cpu.rt_period_us", rtPeriod.ToString(CultureInfo.InvariantCulture), missingHint: NoRt);
        }
        if (cpu.RealtimeRuntime is { } rtRuntime and not 0)
        {
            CgroupFiles.Write(_directory + "/cpu.rt_runtime_us", rtRuntime < 0 ? "-1" : rtRuntime.ToString(CultureInfo.InvariantCulture),
                missingHint: NoRt, refusedHint: "the runtime exceeds the period or what the parent cgroups leave free of their cpu.rt_runtime_us");
        }
    }
}
