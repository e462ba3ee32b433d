using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.Api.Shim.Cgroups;
using Cri = Berth.Api.Cri;

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

    /// <summary>
    /// What ContainerStatus reports as resources.linux: the spec's <paramref name="resources"/> and the
    /// process's <paramref name="oomScoreAdj"/> in CRI terms, field by field as containerd's
    /// copyResourcesToStatus (internal/cri/server/container_create.go); kubelet's in-place resize reads it.
    /// </summary>
    public static Cri.LinuxContainerResources ToCri(LinuxResources? resources, int? oomScoreAdj)
    {
        var status = new Cri.LinuxContainerResources { OomScoreAdj = oomScoreAdj ?? 0 };
        if (resources?.Cpu is { } cpu)
        {
            status.CpuPeriod = (long)(cpu.Period ?? 0);
            status.CpuQuota = cpu.Quota ?? 0;
            status.CpuShares = (long)(cpu.Shares ?? 0);
            status.CpusetCpus = cpu.Cpus ?? "";
            status.CpusetMems = cpu.Mems ?? "";
        }
        if (resources?.Memory is { } memory)
        {
            status.MemoryLimitInBytes = memory.Limit ?? 0;
            status.MemorySwapLimitInBytes = memory.Swap ?? 0;
        }
        foreach (LinuxHugepageLimit limit in resources?.HugepageLimits ?? [])
        {
            status.HugepageLimits.Add(new Cri.HugepageLimit { PageSize = limit.PageSize, Limit = limit.Limit });
        }
        foreach (var (key, value) in resources?.Unified ?? new Dictionary<string, string>())
        {
            status.Unified[key] = value;
        }
        return status;
    }

    /// <summary>
    /// The resources after an update: what <paramref name="update"/> sets (its non-zero numbers and
    /// non-empty lists, its hugepage sizes and unified keys) over <paramref name="current"/>, as
    /// containerd's UpdateContainerResources applies WithResources to the container's spec; the
    /// oom_score_adj stays as created (an update does not change it).
    /// </summary>
    public static Cri.LinuxContainerResources Merge(Cri.LinuxContainerResources current, Cri.LinuxContainerResources update)
    {
        var merged = current.Clone();
        if (update.CpuPeriod != 0) { merged.CpuPeriod = update.CpuPeriod; }
        if (update.CpuQuota != 0) { merged.CpuQuota = update.CpuQuota; }
        if (update.CpuShares != 0) { merged.CpuShares = update.CpuShares; }
        if (update.CpusetCpus.Length > 0) { merged.CpusetCpus = update.CpusetCpus; }
        if (update.CpusetMems.Length > 0) { merged.CpusetMems = update.CpusetMems; }
        if (update.MemoryLimitInBytes != 0) { merged.MemoryLimitInBytes = update.MemoryLimitInBytes; }
        if (update.MemorySwapLimitInBytes != 0) { merged.MemorySwapLimitInBytes = update.MemorySwapLimitInBytes; }
        foreach (Cri.HugepageLimit limit in update.HugepageLimits)
        {
            var kept = merged.HugepageLimits.Where(old => old.PageSize != limit.PageSize).ToList();
            merged.HugepageLimits.Clear();
            merged.HugepageLimits.Add(kept);
            merged.HugepageLimits.Add(limit);
        }
        foreach (var (key, value) in update.Unified)
        {
            merged.Unified[key] = value;
        }
        return merged;
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
            if (UnifiedKeys.Problem(key) is { } problem)
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
