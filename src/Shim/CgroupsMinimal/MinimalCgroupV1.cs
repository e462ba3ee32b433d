using Berth.Api.Shim;
using Berth.Shim.Cgroups;

namespace Berth.Shim.CgroupsMinimal;

/// <summary>
/// cgroup v1, minimal: a directory in every mounted hierarchy; memory limit, reservation, swap,
/// swappiness and OOM killer; cpu shares, quota and period; cpuset; pids. (Devices, blkio and
/// hugetlb are left to the full per-controller implementation.)
/// </summary>
internal sealed class MinimalCgroupV1Manager : ICgroupManager
{
    private readonly string _root;
    private readonly List<(string MountPoint, string Type, string Options)> _mounts;

    public MinimalCgroupV1Manager(string root, List<(string MountPoint, string Type, string Options)> mounts)
    {
        _root = root;
        _mounts = mounts;
    }

    public int Version => 1;

    public ICgroup Create(string path, LinuxResources? resources)
    {
        var hierarchies = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (mountPoint, type, options) in _mounts)
        {
            if (type != "cgroup" || !mountPoint.StartsWith(_root + "/", StringComparison.Ordinal))
            {
                continue;
            }
            foreach (string option in options.Split(','))
            {
                if (option is "cpu" or "cpuacct" or "cpuset" or "memory" or "pids" or "devices" or "freezer" or "blkio"
                    or "hugetlb" or "net_cls" or "net_prio" or "perf_event" or "rdma" or "misc" or "name=systemd")
                {
                    hierarchies.TryAdd(option, mountPoint);
                }
            }
        }
        var cgroup = new MinimalCgroupV1(path.Trim('/'), hierarchies);
        cgroup.CreateDirectories();
        if (resources is not null)
        {
            cgroup.Update(resources);
        }
        return cgroup;
    }
}

internal sealed class MinimalCgroupV1 : ICgroup
{
    private readonly Dictionary<string, string> _hierarchies;

    public MinimalCgroupV1(string path, Dictionary<string, string> hierarchies)
    {
        Path = path;
        _hierarchies = hierarchies;
    }

    public string Path { get; }

    private IEnumerable<string> Directories() => _hierarchies.Values.Distinct().Select(m => m + "/" + Path);

    private string? Directory(string controller) => _hierarchies.TryGetValue(controller, out string? mount) ? mount + "/" + Path : null;

    public void CreateDirectories()
    {
        foreach (string directory in Directories())
        {
            System.IO.Directory.CreateDirectory(directory);
        }
        if (_hierarchies.TryGetValue("cpuset", out string? cpusetMount))
        {
            // A new cpuset is empty and refuses tasks: inherit cpus and mems down from the first ancestor that has them.
            string current = cpusetMount;
            foreach (string part in Path.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                string child = current + "/" + part;
                foreach (string file in new[] { "cpuset.cpus", "cpuset.mems" })
                {
                    if (string.IsNullOrWhiteSpace(CgroupFiles.TryRead(child + "/" + file)))
                    {
                        string parentValue = CgroupFiles.TryRead(current + "/" + file)?.Trim() ?? "";
                        if (parentValue.Length > 0)
                        {
                            CgroupFiles.Write(child + "/" + file, parentValue);
                        }
                    }
                }
                current = child;
            }
        }
    }

    public void AddProcess(int pid)
    {
        foreach (string directory in Directories())
        {
            CgroupFiles.Write(directory + "/cgroup.procs", pid.ToString());
        }
    }

    public void Update(LinuxResources resources)
    {
        if (resources.Memory is { } memory && Directory("memory") is { } mem)
        {
            if (memory.Limit is { } limit)
            {
                long value = limit <= 0 ? -1 : limit;
                if (memory.Swap is { } swap && File.Exists(mem + "/memory.memsw.limit_in_bytes"))
                {
                    // memsw must stay >= limit: order the two writes so that holds in between.
                    try
                    {
                        CgroupFiles.Write(mem + "/memory.limit_in_bytes", value.ToString());
                        CgroupFiles.Write(mem + "/memory.memsw.limit_in_bytes", (swap <= 0 ? -1 : swap).ToString());
                    }
                    catch (ErrnoException)
                    {
                        CgroupFiles.Write(mem + "/memory.memsw.limit_in_bytes", (swap <= 0 ? -1 : swap).ToString());
                        CgroupFiles.Write(mem + "/memory.limit_in_bytes", value.ToString());
                    }
                }
                else
                {
                    CgroupFiles.Write(mem + "/memory.limit_in_bytes", value.ToString());
                }
            }
            if (memory.Reservation is { } reservation)
            {
                CgroupFiles.Write(mem + "/memory.soft_limit_in_bytes", (reservation <= 0 ? -1 : reservation).ToString());
            }
            if (memory.Swappiness is { } swappiness && swappiness <= 100)
            {
                CgroupFiles.Write(mem + "/memory.swappiness", swappiness.ToString());
            }
            if (memory.DisableOOMKiller == true)
            {
                CgroupFiles.Write(mem + "/memory.oom_control", "1");
            }
        }
        if (resources.Cpu is { } cpu)
        {
            if (Directory("cpu") is { } c)
            {
                if (cpu.Shares is { } shares && shares > 0)
                {
                    CgroupFiles.Write(c + "/cpu.shares", shares.ToString());
                }
                if (cpu.Period is { } period && period > 0)
                {
                    CgroupFiles.Write(c + "/cpu.cfs_period_us", period.ToString());
                }
                if (cpu.Quota is { } quota && quota != 0)
                {
                    CgroupFiles.Write(c + "/cpu.cfs_quota_us", (quota < 0 ? -1 : quota).ToString());
                }
            }
            if (Directory("cpuset") is { } cs)
            {
                if (!string.IsNullOrEmpty(cpu.Cpus))
                {
                    CgroupFiles.Write(cs + "/cpuset.cpus", cpu.Cpus);
                }
                if (!string.IsNullOrEmpty(cpu.Mems))
                {
                    CgroupFiles.Write(cs + "/cpuset.mems", cpu.Mems);
                }
            }
        }
        if (resources.Pids is { } pids && Directory("pids") is { } p)
        {
            CgroupFiles.Write(p + "/pids.max", pids.Limit > 0 ? pids.Limit.ToString() : "max");
        }
    }

    public IReadOnlyList<int> Processes()
    {
        string? directory = Directory("pids") ?? Directory("memory") ?? Directories().FirstOrDefault();
        return directory is null ? [] : CgroupFiles.ReadPids(directory + "/cgroup.procs");
    }

    public ulong OomKillCount() =>
        Directory("memory") is { } mem ? CgroupFiles.ReadKey(mem + "/memory.oom_control", "oom_kill") : 0;

    public CgroupStats Stats()
    {
        string? mem = Directory("memory");
        ulong usage = mem is null ? 0 : CgroupFiles.ReadUInt64(mem + "/memory.usage_in_bytes");
        ulong inactiveFile = mem is null ? 0 : CgroupFiles.ReadKey(mem + "/memory.stat", "total_inactive_file");
        ulong limit = mem is null ? 0 : CgroupFiles.ReadUInt64(mem + "/memory.limit_in_bytes");
        return new CgroupStats
        {
            CpuUsageNanos = Directory("cpuacct") is { } acct ? CgroupFiles.ReadUInt64(acct + "/cpuacct.usage") : 0,
            MemoryUsageBytes = usage,
            MemoryWorkingSetBytes = usage > inactiveFile ? usage - inactiveFile : 0,
            MemoryRssBytes = mem is null ? 0 : CgroupFiles.ReadKey(mem + "/memory.stat", "total_rss"),
            MemoryPageFaults = mem is null ? 0 : CgroupFiles.ReadKey(mem + "/memory.stat", "total_pgfault"),
            MemoryMajorPageFaults = mem is null ? 0 : CgroupFiles.ReadKey(mem + "/memory.stat", "total_pgmajfault"),
            // The kernel reports "no limit" as a huge page-rounded number.
            MemoryLimitBytes = limit >= (1UL << 62) ? 0 : limit,
            OomKills = OomKillCount(),
            Pids = Directory("pids") is { } p ? CgroupFiles.ReadUInt64(p + "/pids.current") : (ulong)Processes().Count,
        };
    }

    public void Delete()
    {
        foreach (string directory in Directories())
        {
            CgroupFiles.RemoveDirectory(directory);
        }
    }
}
