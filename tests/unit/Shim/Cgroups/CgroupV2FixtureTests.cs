using Berth.Api.Shim;
using Berth.Api.Shim.Cgroups;
using Berth.Shim.Cgroups;
using Berth.Shim.Cgroups.V2;
using Berth.Shim;

namespace Berth.Tests.Unit.Shim.Cgroups;

/// <summary>
/// The v2 cgroup code against fixture trees laid out from <see cref="CgroupV2Files"/> (core files recorded from a
/// real cgroup2 mount, controller files from the kernel's cgroup-v2.rst): a root offering every controller, a pod
/// and its container. Plain files take the values the code writes, so each test reads back exactly what reached
/// the kernel's files.
/// </summary>
public sealed class CgroupV2FixtureTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("berth-v2-fixture-");

    public CgroupV2FixtureTests()
    {
        CgroupV2Files.Lay(_root.FullName, new Dictionary<string, string>
        {
            ["cgroup.controllers"] = CgroupV2Files.AllControllers + "\n", ["cgroup.subtree_control"] = "", ["cgroup.procs"] = "",
        });
        CgroupV2Files.Lay(Path.Combine(_root.FullName, "pod"), CgroupV2Files.Leaf);
        CgroupV2Files.Lay(Path.Combine(_root.FullName, "pod", "c1"), CgroupV2Files.Leaf);
    }

    private string Leaf => Path.Combine(_root.FullName, "pod", "c1");

    private ICgroup Create(LinuxResources resources) =>
        new CgroupV2Manager(new CgroupLayout { Version = 2, Root = _root.FullName }).Create("/pod/c1", resources);

    private string Read(string file) => File.ReadAllText(Path.Combine(Leaf, file));

    [Fact]
    public void UnifiedKeysKubeletSendsReachTheirFiles()
    {
        Create(new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 64 << 20 },
            Unified = new Dictionary<string, string>
            {
                ["memory.oom.group"] = "1",
                ["memory.high"] = "50331648",
                ["memory.min"] = "1048576",
                ["memory.swap.max"] = "0",
            },
        });
        Assert.Equal((64 << 20).ToString(), Read("memory.max"));
        Assert.Equal("1", Read("memory.oom.group"));
        Assert.Equal("50331648", Read("memory.high"));
        Assert.Equal("1048576", Read("memory.min"));
        Assert.Equal("0", Read("memory.swap.max"));
        // Creating enabled every controller the parents offer, as runc does.
        Assert.Equal(string.Join(' ', CgroupV2Files.AllControllers.Split(' ').Select(controller => "+" + controller)),
            File.ReadAllText(Path.Combine(_root.FullName, "cgroup.subtree_control")));
    }

    [Fact]
    public void SwapIsMemoryPlusSwapInOciAndSwapAloneInV2()
    {
        var cgroup = Create(new LinuxResources { Memory = new LinuxMemory { Limit = 100 << 20, Swap = 300 << 20 } });
        Assert.Equal((200 << 20).ToString(), Read("memory.swap.max"));
        cgroup.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 100 << 20, Swap = -1 } });
        Assert.Equal("max", Read("memory.swap.max"));
        cgroup.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 100 << 20, Swap = 100 << 20 } });
        Assert.Equal("0", Read("memory.swap.max"));
    }

    [Fact]
    public void UpdatesReachCpuPidsAndIoFiles()
    {
        var cgroup = Create(new LinuxResources());
        cgroup.Update(new LinuxResources
        {
            Cpu = new LinuxCpu { Shares = 1024, Quota = 50_000, Period = 100_000, Cpus = "0-1", Mems = "0" },
            Pids = new LinuxPids { Limit = 64 },
            BlockIO = new LinuxBlockIO { Weight = 500 },
        });
        Assert.Equal("50000 100000", Read("cpu.max"));
        Assert.Equal("39", Read("cpu.weight"));
        Assert.Equal("0-1", Read("cpuset.cpus"));
        Assert.Equal("64", Read("pids.max"));
        // No io.bfq.weight in the fixture: the weight goes to io.weight, converted to 1..10000 as runc does.
        Assert.Equal("4950", Read("io.weight"));
    }

    [Theory]
    [InlineData("cgroup.procs")]
    [InlineData("cgroup.kill")]
    [InlineData("cgroup.freeze")]
    [InlineData("cgroup.subtree_control")]
    public void CoreFilesThatActOnProcessesAreRefusedAndNothingIsWritten(string key)
    {
        var error = Assert.Throws<InvalidSpecException>(() => Create(new LinuxResources
        {
            Unified = new Dictionary<string, string> { ["memory.high"] = "1", [key] = "1" },
        }));
        Assert.Contains(key, error.Message);
        Assert.Equal("max\n", Read("memory.high"));
        Assert.Equal(CgroupV2Files.Leaf[key], Read(key));
    }

    [Fact]
    public void ARefusedUpdateWritesNothing()
    {
        var cgroup = Create(new LinuxResources());
        File.WriteAllText(Path.Combine(Leaf, "cgroup.controllers"), "cpuset cpu io memory");
        var before = CgroupV2Files.Leaf.Keys.ToDictionary(file => file, Read);
        Assert.Throws<CgroupUnsupportedException>(() => cgroup.Update(new LinuxResources
        {
            Cpu = new LinuxCpu { Quota = 50_000, Period = 100_000, Cpus = "0" },
            Memory = new LinuxMemory { Limit = 64 << 20 },
            Unified = new Dictionary<string, string> { ["memory.high"] = "1", ["pids.max"] = "5" },
        }));
        Assert.Equal(before, CgroupV2Files.Leaf.Keys.ToDictionary(file => file, Read));
    }

    [Fact]
    public void OnAHybridTreeMemoryKeysAreRefusedNamingTheController()
    {
        // A hybrid node's cgroup2 tree, as recorded: no controller, only the core files.
        Directory.Delete(Leaf, recursive: true);
        CgroupV2Files.Lay(Leaf, CgroupV2Files.Recorded);
        File.WriteAllText(Path.Combine(Leaf, "memory.oom.group"), "0\n");
        var error = Assert.Throws<CgroupUnsupportedException>(() => Create(new LinuxResources
        {
            Unified = new Dictionary<string, string> { ["memory.oom.group"] = "1" },
        }));
        Assert.Contains("needs the memory controller", error.Message);
        Assert.Equal("0\n", Read("memory.oom.group"));
        Assert.Throws<CgroupUnsupportedException>(() => Create(new LinuxResources { Memory = new LinuxMemory { Limit = 1 << 20 } }));
    }

    [Fact]
    public void OomKillsAreCountedFromMemoryEvents()
    {
        var cgroup = Create(new LinuxResources());
        Assert.Equal(0UL, cgroup.OomKillCount());
        File.WriteAllText(Path.Combine(Leaf, "memory.events"), "low 0\nhigh 4\nmax 9\noom 2\noom_kill 2\noom_group_kill 1\n");
        Assert.Equal(2UL, cgroup.OomKillCount());
    }

    [Fact]
    public void UsageIsReadFromTheStatsFilesOfAFreshCgroup()
    {
        Create(new LinuxResources { Memory = new LinuxMemory { Limit = 64 << 20 } });
        var reader = new CgroupUsageReader(new CgroupLayout { Version = 2, Root = _root.FullName });

        var usage = reader.Read("/pod/c1");

        Assert.NotNull(usage);
        Assert.Equal(0UL, usage.CpuNanoseconds);
        Assert.Equal(0UL, usage.Memory!.Usage);
        Assert.Equal((ulong)(64 << 20), usage.Memory.Limit);
        Assert.Equal(0UL, usage.Swap!.Usage);
        Assert.Null(usage.Swap.Limit); // "max"
        Assert.Equal(0UL, usage.Processes);
        Assert.NotNull(usage.CpuPressure);
        Assert.NotNull(usage.IoPressure);
    }

    [Fact]
    public void A_freeze_waits_for_cgroup_events_and_a_thaw_clears_it()
    {
        var cgroup = Create(new LinuxResources());
        // The kernel reports "frozen 1" once every task stopped: here the fixture already says so.
        File.WriteAllText(Path.Combine(Leaf, "cgroup.events"), "populated 1\nfrozen 1");
        cgroup.SetFrozen(true, TimeSpan.FromSeconds(1));
        Assert.Equal("1", Read("cgroup.freeze"));

        File.WriteAllText(Path.Combine(Leaf, "cgroup.events"), "populated 1\nfrozen 0");
        cgroup.SetFrozen(false, TimeSpan.FromSeconds(1));
        Assert.Equal("0", Read("cgroup.freeze"));
    }

    [Fact]
    public void A_freeze_that_does_not_settle_is_undone_and_reported()
    {
        var cgroup = Create(new LinuxResources());

        var error = Assert.Throws<CgroupBusyException>(() => cgroup.SetFrozen(true, TimeSpan.FromMilliseconds(50)));

        Assert.Contains("did not all freeze within", error.Message);
        Assert.Equal("0", Read("cgroup.freeze"));
    }

    [Fact]
    public void OnAHybridTreeOnlyCpuTimeAndPressureAreThere()
    {
        Directory.Delete(Leaf, recursive: true);
        CgroupV2Files.Lay(Leaf, CgroupV2Files.Recorded);
        var usage = new CgroupUsageReader(new CgroupLayout { Version = 2, Root = _root.FullName }).Read("/pod/c1");

        Assert.NotNull(usage);
        Assert.Equal(0UL, usage.CpuNanoseconds);
        Assert.Null(usage.Memory);
        Assert.Null(usage.Processes);
        Assert.NotNull(usage.MemoryPressure);
    }

    [Fact]
    public void KillAllWritesCgroupKillAndProcessesAreReadFromCgroupProcs()
    {
        var cgroup = Create(new LinuxResources());
        File.WriteAllText(Path.Combine(Leaf, "cgroup.procs"), "1201\n1250\n");

        Assert.Equal([1201, 1250], cgroup.Processes());
        Assert.True(cgroup.TryKillAll());
        Assert.Equal("1", Read("cgroup.kill"));
        // The freezer's file is there for freeze/thaw, and killing does not touch it.
        Assert.Equal("0\n", Read("cgroup.freeze"));
    }

    [Fact]
    public void WithoutCgroupKillTheCallerSignalsEachProcess()
    {
        // Kernels before 5.14 have no cgroup.kill.
        var cgroup = Create(new LinuxResources());
        File.Delete(Path.Combine(Leaf, "cgroup.kill"));

        Assert.False(cgroup.TryKillAll());
        Assert.False(File.Exists(Path.Combine(Leaf, "cgroup.kill")));
    }

    [Fact]
    public void HugetlbAndCpusetLimitsReachTheirFiles()
    {
        Create(new LinuxResources
        {
            HugepageLimits = [new LinuxHugepageLimit { PageSize = "2MB", Limit = 4 << 21 }],
            Cpu = new LinuxCpu { Cpus = "1", Mems = "0" },
        });

        Assert.Equal((4 << 21).ToString(), Read("hugetlb.2MB.max"));
        Assert.Equal("1", Read("cpuset.cpus"));
        Assert.Equal("0", Read("cpuset.mems"));
    }

    public void Dispose() => _root.Delete(recursive: true);
}
