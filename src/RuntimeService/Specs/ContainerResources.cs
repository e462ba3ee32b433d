using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.Api.Shim.Cgroups;

namespace Berth.RuntimeService.Specs;

/// <summary>kubelet's LinuxContainerResources as the spec's linux.resources, field by field as containerd's WithResources.</summary>
internal static class ContainerResources
{
    /// <summary>
    /// Zero means "not set" for every number, as in containerd. Memory swap: the given
    /// memory_swap_limit_in_bytes (memory plus swap, as the spec counts it); without it a memory limit
    /// also caps memory plus swap at the same value, i.e. no swap, which is what containerd does on a
    /// host with swap accounting. The shim skips the swap limit where the kernel has no swap controller.
    /// </summary>
    public static LinuxResources For(LinuxContainerResources? resources, IReadOnlyList<LinuxDeviceCgroup> deviceRules, LinuxBlockIO? blockIo)
    {
        if (resources is null)
        {
            return new LinuxResources { Devices = deviceRules, BlockIO = blockIo };
        }
        long period = NotNegative(resources.CpuPeriod, "cpu_period");
        if (period != 0 && period is < MinCfsMicroseconds or > MaxCfsPeriodMicroseconds)
        {
            throw new SpecException($"cpu_period {period} is outside {MinCfsMicroseconds}..{MaxCfsPeriodMicroseconds} microseconds, the kernel's CFS range");
        }
        if (resources.CpuQuota > 0 && resources.CpuQuota < MinCfsMicroseconds)
        {
            throw new SpecException($"cpu_quota {resources.CpuQuota} is below the kernel's minimum of {MinCfsMicroseconds} microseconds");
        }
        long shares = NotNegative(resources.CpuShares, "cpu_shares");
        long limit = NotNegative(resources.MemoryLimitInBytes, "memory_limit_in_bytes");
        long swap = resources.MemorySwapLimitInBytes;
        if (swap < -1)
        {
            throw new SpecException($"memory_swap_limit_in_bytes {swap} is negative");
        }
        if (swap > 0 && limit > 0 && swap < limit)
        {
            throw new SpecException($"memory_swap_limit_in_bytes {swap} is below memory_limit_in_bytes {limit}: it counts memory plus swap");
        }
        if (resources.CpuQuota < -1)
        {
            throw new SpecException($"cpu_quota {resources.CpuQuota} is negative");
        }

        var cpu = new LinuxCpu
        {
            Period = period != 0 ? (ulong)period : null,
            Quota = resources.CpuQuota != 0 ? resources.CpuQuota : null,
            Shares = shares != 0 ? (ulong)shares : null,
            Cpus = NullIfEmpty(CpuList(resources.CpusetCpus, "cpuset_cpus")),
            Mems = NullIfEmpty(CpuList(resources.CpusetMems, "cpuset_mems")),
        };
        var memory = new LinuxMemory
        {
            Limit = limit != 0 ? limit : null,
            Swap = swap != 0 ? swap : limit != 0 ? limit : null,
        };
        var hugepages = resources.HugepageLimits.Select(hugepage => hugepage.PageSize.Length > 0
            ? new LinuxHugepageLimit { PageSize = hugepage.PageSize, Limit = hugepage.Limit }
            : throw new SpecException("a hugepage limit has no page_size")).ToList();
        return new LinuxResources
        {
            Devices = deviceRules,
            Cpu = cpu == new LinuxCpu() ? null : cpu,
            Memory = memory == new LinuxMemory() ? null : memory,
            HugepageLimits = hugepages.Count > 0 ? hugepages : null,
            Unified = resources.Unified.Count > 0 ? Unified(resources.Unified) : null,
            BlockIO = blockIo,
        };
    }

    /// <summary>oom_score_adj goes to the process, within the kernel's range.</summary>
    public static int? OomScoreAdj(LinuxContainerResources? resources)
    {
        if (resources is null)
        {
            return null;
        }
        if (resources.OomScoreAdj is < -1000 or > 1000)
        {
            throw new SpecException($"oom_score_adj {resources.OomScoreAdj} is outside -1000..1000");
        }
        return (int)resources.OomScoreAdj;
    }

    /// <summary>The CFS bandwidth bounds in microseconds: quota and period at least 1 ms, period at most 1 s (kernel/sched/core.c).</summary>
    private const long MinCfsMicroseconds = 1000;
    private const long MaxCfsPeriodMicroseconds = 1_000_000;

    /// <summary>
    /// A cpuset list as the kernel reads it ("0-3,8,10-11": numbers and ascending ranges, comma
    /// separated); refused here rather than met as the kernel's EINVAL, which reads like another fault.
    /// </summary>
    internal static string CpuList(string value, string field)
    {
        if (value.Length == 0)
        {
            return value;
        }
        foreach (string item in value.Split(','))
        {
            string[] bounds = item.Split('-');
            if (bounds.Length > 2 || bounds.Any(bound => bound.Length == 0 || bound.Length > 5 || !bound.All(char.IsAsciiDigit))
                || (bounds.Length == 2 && int.Parse(bounds[0], System.Globalization.CultureInfo.InvariantCulture) > int.Parse(bounds[1], System.Globalization.CultureInfo.InvariantCulture)))
            {
                throw new SpecException($"{field} \"{value}\" is not a list of numbers and ascending ranges such as 0-3,8");
            }
        }
        return value;
    }

    /// <summary>linux.resources.unified: only files <see cref="UnifiedKeys.Problem"/> allows (never cgroup.procs, cgroup.kill and the like).</summary>
    private static SortedDictionary<string, string> Unified(IDictionary<string, string> unified)
    {
        foreach (string key in unified.Keys)
        {
            if (UnifiedKeys.Problem(key, enabled: null) is { } problem)
            {
                throw new SpecException($"linux.resources.{problem}");
            }
        }
        return new SortedDictionary<string, string>(unified, StringComparer.Ordinal);
    }

    private static long NotNegative(long value, string field) =>
        value >= 0 ? value : throw new SpecException($"{field} {value} is negative");

    private static string? NullIfEmpty(string value) => value.Length > 0 ? value : null;
}
