using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;

namespace Berth.Tests.Unit.Specs;

public sealed class ContainerResourcesTests
{
    private static OciSpec WithResources(LinuxContainerResources resources)
    {
        var container = Container();
        container.Linux.Resources = resources;
        return Build(container);
    }

    [Fact]
    public void EveryFieldMaps()
    {
        var resources = new LinuxContainerResources
        {
            CpuPeriod = 100_000,
            CpuQuota = 50_000,
            CpuShares = 512,
            MemoryLimitInBytes = 256L << 20,
            MemorySwapLimitInBytes = 512L << 20,
            OomScoreAdj = 937,
            CpusetCpus = "0-1",
            CpusetMems = "0",
            HugepageLimits = { new HugepageLimit { PageSize = "2MB", Limit = 4L << 20 }, new HugepageLimit { PageSize = "1GB", Limit = 0 } },
            Unified = { ["memory.high"] = "200000000", ["io.latency"] = "target=10" },
        };
        var spec = WithResources(resources);
        var linux = spec.Linux!.Resources!;
        Assert.Equal(new LinuxCpu { Period = 100_000, Quota = 50_000, Shares = 512, Cpus = "0-1", Mems = "0" }, linux.Cpu);
        Assert.Equal(new LinuxMemory { Limit = 256L << 20, Swap = 512L << 20 }, linux.Memory);
        Assert.Equal(
            [new LinuxHugepageLimit { PageSize = "2MB", Limit = 4L << 20 }, new LinuxHugepageLimit { PageSize = "1GB", Limit = 0 }],
            linux.HugepageLimits);
        Assert.Equal("200000000", linux.Unified!["memory.high"]);
        Assert.Equal("target=10", linux.Unified["io.latency"]);
        Assert.Equal(937, spec.Process!.OomScoreAdj);
        Assert.Null(linux.Pids);
    }

    [Theory]
    [InlineData("cgroup.procs")]
    [InlineData("cgroup.threads")]
    [InlineData("cgroup.kill")]
    [InlineData("cgroup.subtree_control")]
    [InlineData("cgroup.type")]
    [InlineData("cgroup.freeze")]
    [InlineData("devices.deny")]
    [InlineData("nonsense")]
    public void UnifiedKeysThatActOnProcessesOrNameNoV2ControllerAreRefusedByName(string key)
    {
        var container = Container();
        container.Linux.Resources.Unified[key] = "1";
        Assert.Contains($"linux.resources.unified key \"{key}\"", Refused(Input(container)).Message);
    }

    [Fact]
    public void TheCoreLimitsOnTheContainersOwnSubtreeMayBeSet()
    {
        var spec = WithResources(new LinuxContainerResources { Unified = { ["cgroup.max.descendants"] = "0", ["cgroup.max.depth"] = "0" } });
        Assert.Equal(2, spec.Linux!.Resources!.Unified!.Count);
    }

    [Fact]
    public void ZeroesMeanUnset()
    {
        var spec = WithResources(new LinuxContainerResources());
        Assert.Null(spec.Linux!.Resources!.Cpu);
        Assert.Null(spec.Linux.Resources.Memory);
        Assert.Null(spec.Linux.Resources.HugepageLimits);
        Assert.Null(spec.Linux.Resources.Unified);
        Assert.Equal(0, spec.Process!.OomScoreAdj);
    }

    [Fact]
    public void WithoutResourcesThereIsNoOomScoreAdj()
    {
        var container = Container();
        container.Linux.Resources = null;
        var spec = Build(container);
        Assert.Null(spec.Process!.OomScoreAdj);
        Assert.NotNull(spec.Linux!.Resources!.Devices);
    }

    [Fact]
    public void AMemoryLimitAloneAlsoCapsSwap()
    {
        Assert.Equal(new LinuxMemory { Limit = 1 << 30, Swap = 1 << 30 }, WithResources(new LinuxContainerResources { MemoryLimitInBytes = 1 << 30 }).Linux!.Resources!.Memory);
    }

    [Fact]
    public void UnlimitedQuotaPassesThrough()
    {
        Assert.Equal(-1, WithResources(new LinuxContainerResources { CpuQuota = -1 }).Linux!.Resources!.Cpu!.Quota);
    }

    [Theory]
    [InlineData(-5, 0, 0, 0, 0)]
    [InlineData(0, -5, 0, 0, 0)]
    [InlineData(0, 0, -5, 0, 0)]
    [InlineData(0, 0, 0, 1001, 0)]
    [InlineData(0, 0, 0, 0, 1024)]
    [InlineData(1, 0, 0, 0, 0)]
    [InlineData(999, 0, 0, 0, 0)]
    [InlineData(1_000_001, 0, 0, 0, 0)]
    public void BadNumbersAreRefused(long period, long shares, long memory, long oomScoreAdj, long swap)
    {
        var container = Container();
        container.Linux.Resources = new LinuxContainerResources
        {
            CpuPeriod = period, CpuShares = shares, MemoryLimitInBytes = memory == 0 && swap != 0 ? 4096 : memory,
            OomScoreAdj = oomScoreAdj, MemorySwapLimitInBytes = swap,
        };
        Refused(Input(container));
    }

    [Fact]
    public void CgroupsPathIsTheInputsAndContainerPathNestsInThePods()
    {
        Assert.Equal("/kubepods/burstable/podpod-uid-1/container4567", Build(Container()).Linux!.CgroupsPath);
        Assert.Equal("/kubepods/burstable/podx/c1", CgroupPaths.Container("/kubepods/burstable/podx/", "c1"));
        Assert.Equal("/berth/s1/c1", CgroupPaths.Container("/berth/s1", "c1"));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0-3,8,10-11")]
    [InlineData("7-7")]
    public void CpuListsTheKernelReadsAreKept(string list) =>
        Assert.Equal(list, WithResources(new LinuxContainerResources { CpusetCpus = list, CpusetMems = list }).Linux!.Resources!.Cpu!.Cpus);

    [Theory]
    [InlineData("zzz")]
    [InlineData("0-")]
    [InlineData("3-1")]
    [InlineData("0,,1")]
    [InlineData("1 2")]
    [InlineData("-1")]
    public void CpuListsTheKernelWouldRefuseAreInvalidArgument(string list)
    {
        var container = Container();
        container.Linux.Resources = new LinuxContainerResources { CpusetCpus = list };
        Assert.Contains("cpuset_cpus", Refused(Input(container)).Message);
    }

    [Fact]
    public void AQuotaBelowOneMillisecondIsRefused()
    {
        var container = Container();
        container.Linux.Resources = new LinuxContainerResources { CpuQuota = 999 };
        Assert.Contains("cpu_quota", Refused(Input(container)).Message);
    }
}
