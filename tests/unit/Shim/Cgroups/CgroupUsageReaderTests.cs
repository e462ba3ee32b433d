using Berth.Api.Shim.Cgroups;

namespace Berth.Shim.Tests.Unit.Cgroups;

/// <summary>
/// <see cref="CgroupUsageReader"/> over fixture trees laid out as the kernel lays them out: a v2 unified
/// tree, and v1 hierarchies (cpu,cpuacct / memory / pids) with a hybrid cgroup2 tree for PSI.
/// </summary>
public sealed class CgroupUsageReaderTests : IDisposable
{
    private const string Pod = "/kubepods/besteffort/pod1";
    private const string Container = Pod + "/abc";

    private const string Pressure = """
        some avg10=1.50 avg60=0.25 avg300=0.00 total=2000000
        full avg10=0.00 avg60=0.00 avg300=0.00 total=1500

        """;

    private readonly string _root = Directory.CreateTempSubdirectory("berth-cgusage-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Put(string directory, string file, string text)
    {
        string path = Path.Combine(_root, directory.TrimStart('/'));
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, file), text);
    }

    [Fact]
    public void V2ReadsTheUnifiedDirectory()
    {
        string dir = "unified" + Container;
        Put(dir, "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
        Put(dir, "memory.current", "20000000\n");
        Put(dir, "memory.stat", CgroupParsingTests.V2MemoryStat.Replace("inactive_file 8192", "inactive_file 3000000"));
        Put(dir, "memory.max", "50000000\n");
        Put(dir, "memory.events", "low 0\nhigh 0\nmax 4\noom 0\noom_kill 0\n");
        Put(dir, "memory.swap.current", "4096\n");
        Put(dir, "memory.swap.max", "max\n");
        Put(dir, "pids.current", "3\n");
        Put(dir, "cpu.pressure", Pressure);
        Put(dir, "memory.pressure", Pressure);
        var reader = new CgroupUsageReader(new CgroupLayout { Version = 2, Root = Path.Combine(_root, "unified") });

        var usage = reader.Read(Container);

        Assert.NotNull(usage);
        Assert.Equal(1_500_000_000UL, usage.CpuNanoseconds);
        var memory = Assert.IsType<CgroupMemory>(usage.Memory);
        Assert.Equal(20_000_000UL, memory.Usage);
        Assert.Equal(17_000_000UL, memory.WorkingSet);
        Assert.Equal(4313088UL, memory.Rss);
        Assert.Equal(12288UL, memory.Cache);
        Assert.Equal(1557UL, memory.PageFaults);
        Assert.Equal(1UL, memory.MajorPageFaults);
        Assert.Equal(50_000_000UL, memory.Limit);
        Assert.Equal(33_000_000UL, memory.Available);
        Assert.Equal(4UL, memory.FailCount);
        Assert.Equal(new CgroupSwap(4096, null), usage.Swap);
        Assert.Equal(3UL, usage.Processes);
        Assert.Equal(new PressureLine(1.5, 0.25, 0, 2_000_000_000), usage.CpuPressure?.Some);
        Assert.Equal(1_500_000UL, usage.CpuPressure?.Full?.TotalNanoseconds);
        Assert.NotNull(usage.MemoryPressure);
        Assert.Null(usage.IoPressure);                                   // no io.pressure file: none, not zero
    }

    [Fact]
    public void V2WithoutLimitOrControllersLeavesThemUnset()
    {
        string dir = "unified" + Container;
        Put(dir, "cpu.stat", "usage_usec 10\n");
        Put(dir, "memory.current", "100\n");
        Put(dir, "memory.stat", "anon 50\ninactive_file 400\n");      // more inactive file than usage: floored
        Put(dir, "memory.max", "max\n");
        var reader = new CgroupUsageReader(new CgroupLayout { Version = 2, Root = Path.Combine(_root, "unified") });

        var usage = reader.Read(Container)!;

        Assert.Equal(0UL, usage.Memory!.WorkingSet);
        Assert.Null(usage.Memory.Limit);
        Assert.Null(usage.Memory.Available);
        Assert.Null(usage.Swap);
        Assert.Null(usage.Processes);
    }

    [Fact]
    public void V1ReadsEachHierarchyAndPressureFromTheHybridTree()
    {
        Put("cpu,cpuacct" + Container, "cpuacct.usage", "987654321\n");
        Put("memory" + Container, "memory.usage_in_bytes", "4000000\n");
        Put("memory" + Container, "memory.stat", CgroupParsingTests.V1MemoryStat);
        Put("memory" + Container, "memory.limit_in_bytes", "9223372036854771712\n");   // v1's "no limit"
        Put("memory" + Container, "memory.failcnt", "0\n");
        Put("pids" + Container, "pids.current", "2\n");
        Put("unified" + Container, "io.pressure", Pressure);
        var reader = new CgroupUsageReader(V1Layout());

        var usage = reader.Read(Container)!;

        Assert.Equal(987654321UL, usage.CpuNanoseconds);
        Assert.Equal(4_000_000UL - 1146880, usage.Memory!.WorkingSet);
        Assert.Equal(581632UL, usage.Memory.Rss);
        Assert.Equal(2112UL, usage.Memory.PageFaults);
        Assert.Equal(3UL, usage.Memory.MajorPageFaults);
        Assert.Null(usage.Memory.Limit);
        Assert.Null(usage.Swap);                                        // no memsw: swap not accounted
        Assert.Equal(2UL, usage.Processes);
        Assert.Null(usage.CpuPressure);
        Assert.Equal(2_000_000_000UL, usage.IoPressure!.Some.TotalNanoseconds);
    }

    [Fact]
    public void V1SwapIsMemswLessMemory()
    {
        Put("memory" + Container, "memory.usage_in_bytes", "1000\n");
        Put("memory" + Container, "memory.limit_in_bytes", "5000\n");
        Put("memory" + Container, "memory.memsw.usage_in_bytes", "1300\n");
        Put("memory" + Container, "memory.memsw.limit_in_bytes", "8000\n");
        var reader = new CgroupUsageReader(V1Layout());

        var usage = reader.Read(Container)!;

        Assert.Equal(new CgroupSwap(300, 3000), usage.Swap);
        Assert.Equal(2700UL, usage.Swap!.Available);
        Assert.Null(usage.CpuNanoseconds);                              // no cpuacct directory for it
    }

    [Fact]
    public void AbsentOrClimbingCgroupsReadAsNull()
    {
        Put("memory/elsewhere", "memory.usage_in_bytes", "1\n");
        var v1 = new CgroupUsageReader(V1Layout());
        var v2 = new CgroupUsageReader(new CgroupLayout { Version = 2, Root = Path.Combine(_root, "unified") });

        Assert.Null(v1.Read(Container));
        Assert.Null(v2.Read(Container));
        Assert.Null(v1.Read("/"));
        Assert.Null(v1.Read("/kubepods/../../etc"));
    }

    [Fact]
    public void PressureLinesParse()
    {
        var cpuBefore513 = CgroupUsageReader.ParsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n"u8);
        Assert.Equal(42_000UL, cpuBefore513!.Some.TotalNanoseconds);
        Assert.Null(cpuBefore513.Full);
        Assert.Null(CgroupUsageReader.ParsePressure(""u8));
        Assert.Null(CgroupUsageReader.ParsePressure("garbage\n"u8));
    }

    private CgroupLayout V1Layout() => new()
    {
        Version = 1,
        Root = _root,
        Hierarchies =
        [
            new CgroupMount(Path.Combine(_root, "cpu,cpuacct"), "cgroup", "/", "cgroup", "rw,cpu,cpuacct"),
            new CgroupMount(Path.Combine(_root, "memory"), "cgroup", "/", "cgroup", "rw,memory"),
            new CgroupMount(Path.Combine(_root, "pids"), "cgroup", "/", "cgroup", "rw,pids"),
        ],
        HybridUnified = Path.Combine(_root, "unified"),
    };
}
