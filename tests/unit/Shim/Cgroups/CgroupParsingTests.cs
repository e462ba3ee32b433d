using Berth.Api.Shim.Cgroups;
using System.Text;
using Berth.Api.Shim;
using Berth.Shim.Cgroups;
using Berth.Shim.Cgroups.V1;
using Berth.Shim.Cgroups.V2;

namespace Berth.Shim.Tests.Unit.Cgroups;

/// <summary>Stat files parsed from sample text (real kernel output, trimmed), and the controllers run against plain files.</summary>
public sealed class CgroupParsingTests : IDisposable
{
    internal const string V1MemoryStat = """
        cache 1204224
        rss 581632
        rss_huge 0
        shmem 0
        mapped_file 0
        pgpgin 1023
        pgfault 2112
        pgmajfault 3
        inactive_anon 0
        active_anon 577536
        inactive_file 1146880
        active_file 57344
        hierarchical_memory_limit 67108864
        total_cache 1204224
        total_rss 581632
        total_pgfault 2112
        total_pgmajfault 3
        total_inactive_anon 0
        total_active_anon 577536
        total_inactive_file 1146880
        total_active_file 57344

        """;

    internal const string V2MemoryStat = """
        anon 4313088
        file 12288
        kernel 360448
        kernel_stack 32768
        pagetables 86016
        sock 0
        shmem 0
        file_mapped 0
        file_dirty 0
        file_writeback 0
        anon_thp 2097152
        inactive_anon 4263936
        active_anon 49152
        inactive_file 8192
        active_file 4096
        unevictable 0
        pgscan 0
        pgsteal 0
        pgfault 1557
        pgmajfault 1
        thp_fault_alloc 1

        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("berth-cgparse-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private void Put(string file, string text) => File.WriteAllText(Path.Combine(_directory, file), text);

    private string Get(string file) => File.ReadAllText(Path.Combine(_directory, file));

    [Fact]
    public void FlatKeyedFilesParseAsSpans()
    {
        byte[] v1 = Encoding.ASCII.GetBytes(V1MemoryStat);
        Assert.Equal(581632UL, CgroupText.GetKey(v1, "total_rss"u8));
        Assert.Equal(581632UL, CgroupText.GetKey(v1, "rss"u8));                 // not confused by rss_huge or total_rss
        Assert.Equal(0UL, CgroupText.GetKey(v1, "rss_huge"u8));
        Assert.Equal(1146880UL, CgroupText.GetKey(v1, "total_inactive_file"u8));
        Assert.False(CgroupText.TryGetKey(v1, "total"u8, out _));
        Assert.False(CgroupText.TryGetKey(v1, "swap"u8, out _));

        byte[] events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"u8.ToArray();
        Assert.Equal(2UL, CgroupText.GetKey(events, "oom_kill"u8));
        Assert.Equal(3UL, CgroupText.GetKey(events, "oom"u8));
        byte[] oomControl = "oom_kill_disable 0\nunder_oom 0\noom_kill 7"u8.ToArray();  // no final newline
        Assert.Equal(7UL, CgroupText.GetKey(oomControl, "oom_kill"u8));
        byte[] cpuStat = "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\nnr_periods 0\n"u8.ToArray();
        Assert.Equal(123456UL, CgroupText.GetKey(cpuStat, "usage_usec"u8));
    }

    [Fact]
    public void NumbersAndMax()
    {
        Assert.True(CgroupText.TryParseUInt64("max\n"u8, out ulong max));
        Assert.Equal(ulong.MaxValue, max);
        Assert.True(CgroupText.TryParseUInt64("9223372036854771712\n"u8, out ulong v1Unlimited));
        Assert.Equal(9223372036854771712UL, v1Unlimited);
        Assert.True(CgroupText.TryParseUInt64("-1\n"u8, out ulong minusOne));
        Assert.Equal(ulong.MaxValue, minusOne);
        Assert.True(CgroupText.TryParseUInt64("99999999999999999999999"u8, out ulong huge));
        Assert.Equal(ulong.MaxValue, huge);
        Assert.False(CgroupText.TryParseUInt64("12a"u8, out _));
        Assert.False(CgroupText.TryParseUInt64("\n"u8, out _));
    }

    [Fact]
    public void ProcsFiles()
    {
        Assert.Equal([1, 42, 31337], CgroupText.ParsePids("1\n42\n31337\n"u8));
        Assert.Empty(CgroupText.ParsePids(""u8));
    }

    [Fact]
    public void OomKillsFromSampleFiles()
    {
        Put("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
        Assert.Equal(1UL, new V1Memory(_directory).OomKillCount());

        Put("memory.events", "low 0\nhigh 0\nmax 0\noom 3\noom_kill 2\noom_group_kill 0\n");
        Assert.Equal(2UL, new CgroupV2("test", _directory, []).OomKillCount());
    }

    [Fact]
    public void V2ControllersWriteTheirFiles()
    {
        foreach (string file in new[] { "memory.max", "memory.swap.max", "memory.low", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems",
            "io.weight", "io.max", "pids.max", "hugetlb.2MB.max", "memory.high" })
        {
            Put(file, "");
        }
        Put("cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
        var cgroup = new CgroupV2("test", _directory, []);
        cgroup.Update(new LinuxResources
        {
            Memory = new() { Limit = 64 << 20, Reservation = 32 << 20, Swap = 96 << 20, Swappiness = 10, DisableOOMKiller = true },
            Cpu = new() { Shares = 1024, Quota = 50000, Period = 100000, Cpus = "0-1", Mems = "0" },
            BlockIO = new() { Weight = 500, ThrottleReadBpsDevice = [new() { Major = 8, Minor = 0, Rate = 1048576 }] },
            Pids = new() { Limit = 0 },
            HugepageLimits = [new() { PageSize = "2MB", Limit = 4 << 21 }],
            Unified = new Dictionary<string, string> { ["memory.high"] = "50331648" },
        });
        Assert.Equal("67108864", Get("memory.max"));
        Assert.Equal("33554432", Get("memory.swap.max"));
        Assert.Equal("33554432", Get("memory.low"));
        Assert.Equal("39", Get("cpu.weight"));
        Assert.Equal("50000 100000", Get("cpu.max"));
        Assert.Equal("0-1", Get("cpuset.cpus"));
        Assert.Equal("0", Get("cpuset.mems"));
        Assert.Equal("4950", Get("io.weight"));
        Assert.Equal("8:0 rbps=1048576", Get("io.max"));
        Assert.Equal("max", Get("pids.max"));
        Assert.Equal("8388608", Get("hugetlb.2MB.max"));
        Assert.Equal("50331648", Get("memory.high"));

        // A limit whose controller is not enabled is refused by name.
        Put("cgroup.controllers", "cpu memory\n");
        var e = Assert.Throws<CgroupUnsupportedException>(() => cgroup.Update(new LinuxResources { Pids = new() { Limit = 10 } }));
        Assert.Contains("pids", e.Message);
        // A unified key for a file the kernel lacks: ENOENT becomes CgroupUnsupportedException.
        Assert.Throws<CgroupUnsupportedException>(() => cgroup.Update(new LinuxResources { Unified = new Dictionary<string, string> { ["memory.oom.group"] = "1" } }));
        // A core file that acts on processes (the request's fault), or a file of a controller not enabled (the
        // node's, as a typed limit without its controller), is refused before anything is written.
        Put("cgroup.procs", "");
        Put("cgroup.kill", "");
        foreach (string key in new[] { "cgroup.procs", "cgroup.kill" })
        {
            Assert.Throws<InvalidSpecException>(() => cgroup.Update(new LinuxResources
            {
                Unified = new Dictionary<string, string> { ["memory.high"] = "1", [key] = "1" },
            }));
        }
        Assert.Throws<CgroupUnsupportedException>(() => cgroup.Update(new LinuxResources
        {
            Unified = new Dictionary<string, string> { ["memory.high"] = "1", ["pids.max"] = "1" },
        }));
        Assert.Equal("", Get("cgroup.procs"));
        Assert.Equal("", Get("cgroup.kill"));
        Assert.Equal("50331648", Get("memory.high"));
        // Realtime has no v2 form.
        Assert.Throws<CgroupUnsupportedException>(() => cgroup.Update(new LinuxResources { Cpu = new() { RealtimeRuntime = 1000 } }));
    }

    [Fact]
    public void V2ManagerEnablesControllersInEveryAncestorAndDeletesWhatItMade()
    {
        Put("cgroup.controllers", "cpuset cpu io memory pids\n");
        Put("cgroup.subtree_control", "cpu\n");
        var manager = new CgroupV2Manager(new CgroupLayout { Version = 2, Root = _directory });
        var cgroup = (CgroupV2)manager.Create("pod/ctr", null);
        Assert.Equal(Path.Combine(_directory, "pod", "ctr"), cgroup.Directory);
        // Plain files cannot append: the last write wins; with the kernel each "+c" adds one.
        Assert.Equal("+cpuset +io +memory +pids", Get("cgroup.subtree_control"));
        // The intermediate level's cgroup.controllers is empty here (a plain directory), so nothing more to enable there.
        Assert.False(File.Exists(Path.Combine(_directory, "pod", "ctr", "cgroup.subtree_control")));
        cgroup.Delete();
        Assert.False(Directory.Exists(Path.Combine(_directory, "pod")));
    }
}
