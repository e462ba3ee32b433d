using Berth.Api.Shim;
using Berth.Shim.Cgroups;

namespace Berth.Shim.CgroupsMinimal;

/// <summary>cgroup v2, minimal: memory.max/low/swap.max, cpu.weight/max, cpuset, pids.max, and the unified map.</summary>
internal sealed class MinimalCgroupV2Manager : ICgroupManager
{
    private readonly string _root;

    public MinimalCgroupV2Manager(string root)
    {
        _root = root;
    }

    public int Version => 2;

    public ICgroup Create(string path, LinuxResources? resources)
    {
        string trimmed = path.Trim('/');
        // Controllers must be enabled in every ancestor's subtree_control for the leaf to have them.
        string current = _root;
        foreach (string part in trimmed.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            string available = CgroupFiles.TryRead(current + "/cgroup.controllers")?.Trim() ?? "";
            foreach (string controller in available.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                try
                {
                    CgroupFiles.Write(current + "/cgroup.subtree_control", "+" + controller);
                }
                catch (ErrnoException)
                {
                    // Not enableable here (a process in an inner node, or a threaded subtree): go on without it.
                }
            }
            current = current + "/" + part;
            Directory.CreateDirectory(current);
        }
        var cgroup = new MinimalCgroupV2(trimmed, current);
        if (resources is not null)
        {
            cgroup.Update(resources);
        }
        return cgroup;
    }
}

internal sealed class MinimalCgroupV2 : ICgroup
{
    private readonly string _directory;

    public MinimalCgroupV2(string path, string directory)
    {
        Path = path;
        _directory = directory;
    }

    public string Path { get; }

    public void AddProcess(int pid) => CgroupFiles.Write(_directory + "/cgroup.procs", pid.ToString());

    public void Update(LinuxResources resources)
    {
        if (resources.Memory is { } memory)
        {
            if (memory.Limit is { } limit)
            {
                CgroupFiles.Write(_directory + "/memory.max", limit > 0 ? limit.ToString() : "max");
                if (memory.Swap is { } swap && File.Exists(_directory + "/memory.swap.max"))
                {
                    // v1 semantics (memory + swap) to v2 (swap only), as runc converts it.
                    string value = swap <= 0 ? "max" : limit > 0 ? Math.Max(0, swap - limit).ToString() : "max";
                    CgroupFiles.Write(_directory + "/memory.swap.max", value);
                }
            }
            if (memory.Reservation is { } reservation)
            {
                CgroupFiles.Write(_directory + "/memory.low", reservation > 0 ? reservation.ToString() : "0");
            }
        }
        if (resources.Cpu is { } cpu)
        {
            if (cpu.Shares is { } shares && shares > 0)
            {
                // The conversion runc and crun use from v1 shares [2, 262144] to v2 weight [1, 10000].
                ulong weight = 1 + ((Math.Clamp(shares, 2, 262144) - 2) * 9999) / 262142;
                CgroupFiles.Write(_directory + "/cpu.weight", weight.ToString());
            }
            if (cpu.Quota is not null || cpu.Period is not null)
            {
                string quota = cpu.Quota is { } q && q > 0 ? q.ToString() : "max";
                ulong period = cpu.Period is { } p && p > 0 ? p : 100000;
                CgroupFiles.Write(_directory + "/cpu.max", $"{quota} {period}");
            }
            if (!string.IsNullOrEmpty(cpu.Cpus))
            {
                CgroupFiles.Write(_directory + "/cpuset.cpus", cpu.Cpus);
            }
            if (!string.IsNullOrEmpty(cpu.Mems))
            {
                CgroupFiles.Write(_directory + "/cpuset.mems", cpu.Mems);
            }
        }
        if (resources.Pids is { } pids)
        {
            CgroupFiles.Write(_directory + "/pids.max", pids.Limit > 0 ? pids.Limit.ToString() : "max");
        }
        if (resources.Unified is { } unified)
        {
            foreach (var (file, value) in unified)
            {
                if (file.Contains('/') || file.StartsWith('.'))
                {
                    throw new ArgumentException($"unified key {file} is not a cgroup file name");
                }
                CgroupFiles.Write(_directory + "/" + file, value);
            }
        }
    }

    public IReadOnlyList<int> Processes() => CgroupFiles.ReadPids(_directory + "/cgroup.procs");

    public ulong OomKillCount() => CgroupFiles.ReadKey(_directory + "/memory.events", "oom_kill");

    public CgroupStats Stats()
    {
        ulong usage = CgroupFiles.ReadUInt64(_directory + "/memory.current");
        ulong inactiveFile = CgroupFiles.ReadKey(_directory + "/memory.stat", "inactive_file");
        string? max = CgroupFiles.TryRead(_directory + "/memory.max")?.Trim();
        return new CgroupStats
        {
            CpuUsageNanos = CgroupFiles.ReadKey(_directory + "/cpu.stat", "usage_usec") * 1000,
            MemoryUsageBytes = usage,
            MemoryWorkingSetBytes = usage > inactiveFile ? usage - inactiveFile : 0,
            MemoryRssBytes = CgroupFiles.ReadKey(_directory + "/memory.stat", "anon"),
            MemoryPageFaults = CgroupFiles.ReadKey(_directory + "/memory.stat", "pgfault"),
            MemoryMajorPageFaults = CgroupFiles.ReadKey(_directory + "/memory.stat", "pgmajfault"),
            MemoryLimitBytes = max is not null && ulong.TryParse(max, out ulong limit) ? limit : 0,
            OomKills = OomKillCount(),
            Pids = CgroupFiles.ReadUInt64(_directory + "/pids.current"),
        };
    }

    public void Delete() => CgroupFiles.RemoveDirectory(_directory);
}
