using Berth.Api.Shim;
using Berth.Api.Shim.Cgroups;
using Berth.Shim.Cgroups;

namespace Berth.Shim.Tests.Unit.Cgroups;

public sealed class CgroupConversionsTests
{
    [Theory]
    [InlineData(0UL, 0UL)]          // unset stays unset
    [InlineData(1UL, 1UL)]          // below v1's minimum: clamped to 2
    [InlineData(2UL, 1UL)]
    [InlineData(1024UL, 39UL)]      // runc's linear map: 1 + (1022 * 9999) / 262142
    [InlineData(512UL, 20UL)]
    [InlineData(262144UL, 10000UL)]
    [InlineData(1_000_000UL, 10000UL)]
    public void CpuSharesBecomeWeightAsRuncConverts(ulong shares, ulong weight) =>
        Assert.Equal(weight, CgroupConversions.CpuSharesToWeight(shares));

    [Theory]
    [InlineData(0UL, 0UL)]
    [InlineData(10UL, 1UL)]
    [InlineData(100UL, 910UL)]
    [InlineData(500UL, 4950UL)]
    [InlineData(1000UL, 10000UL)]
    [InlineData(5UL, 1UL)]
    public void BlkioWeightBecomesIoWeightAsRuncConverts(ulong blkio, ulong io) =>
        Assert.Equal(io, CgroupConversions.BlkioWeightToIoWeight(blkio));

    [Theory]
    // runc's TestConvertMemorySwapToCgroupV2Value cases.
    [InlineData(0L, 0L, 0L)]
    [InlineData(-1L, 0L, -1L)]
    [InlineData(-1L, -1L, -1L)]
    [InlineData(0L, -1L, -1L)]      // unlimited memory, swap unset: both unlimited
    [InlineData(-1L, 1000L, -1L)]
    [InlineData(1000L, 1000L, 0L)]
    [InlineData(2000L, 1000L, 1000L)]
    public void SwapBecomesSwapOnly(long swap, long memory, long expected) =>
        Assert.Equal(expected, CgroupConversions.MemorySwapToV2(swap, memory));

    [Theory]
    [InlineData(1000L, 0L)]         // swap without a memory limit
    [InlineData(1000L, -1L)]
    [InlineData(1000L, 2000L)]      // swap below memory
    public void SwapConversionRefusesNonsense(long swap, long memory) =>
        Assert.Throws<InvalidSpecException>(() => CgroupConversions.MemorySwapToV2(swap, memory));

    [Fact]
    public void SwapMaxTextFollowsRunc()
    {
        Assert.Null(CgroupConversions.SwapMaxV2(null, 1000));
        Assert.Equal("0", CgroupConversions.SwapMaxV2(1000, 1000));      // swap == limit: no swap at all
        Assert.Equal("1000", CgroupConversions.SwapMaxV2(2000, 1000));
        Assert.Equal("max", CgroupConversions.SwapMaxV2(-1, 1000));
        Assert.Equal("max", CgroupConversions.SwapMaxV2(null, -1));
        Assert.Null(CgroupConversions.V2Number(0));
        Assert.Equal("max", CgroupConversions.V2Number(-1));
        Assert.Equal("4096", CgroupConversions.V2Number(4096));
    }

    [Fact]
    public void CpuMaxIsQuotaAndPeriod()
    {
        Assert.Equal("50000 100000", CgroupConversions.CpuMax(50000, 100000));
        Assert.Equal("max 100000", CgroupConversions.CpuMax(-1, 100000));
        Assert.Equal("max 250000", CgroupConversions.CpuMax(null, 250000));
        Assert.Equal("20000", CgroupConversions.CpuMax(20000, null));   // the kernel keeps its period
        Assert.Equal("max", CgroupConversions.CpuMax(-1, 0));
        Assert.Null(CgroupConversions.CpuMax(null, null));
        Assert.Null(CgroupConversions.CpuMax(0, 0));
    }

    [Fact]
    public void IoMaxLinesGroupThrottlesPerDevice()
    {
        Assert.Equal("8:0 rbps=1048576 wbps=max riops=100 wiops=200", CgroupConversions.IoMaxLine(8, 0, 1048576, 0, 100, 200));
        Assert.Equal("259:1 wiops=5", CgroupConversions.IoMaxLine(259, 1, null, null, null, 5));
        Assert.Null(CgroupConversions.IoMaxLine(8, 0, null, null, null, null));
        var io = new LinuxBlockIO
        {
            ThrottleReadBpsDevice = [new() { Major = 8, Minor = 0, Rate = 100 }, new() { Major = 8, Minor = 16, Rate = 300 }],
            ThrottleWriteBpsDevice = [new() { Major = 8, Minor = 0, Rate = 200 }],
            ThrottleReadIOPSDevice = [new() { Major = 8, Minor = 16, Rate = 10 }],
            ThrottleWriteIOPSDevice = [new() { Major = 254, Minor = 0, Rate = 20 }],
        };
        Assert.Equal(["8:0 rbps=100 wbps=200", "8:16 rbps=300 riops=10", "254:0 wiops=20"], CgroupConversions.IoMaxLines(io));
        Assert.Empty(CgroupConversions.IoMaxLines(new LinuxBlockIO()));
    }

    [Fact]
    public void V1BlkioLines()
    {
        Assert.Equal("8:0 1048576", CgroupConversions.ThrottleLine(new LinuxThrottleDevice { Major = 8, Minor = 0, Rate = 1048576 }));
        Assert.Equal("8:16 500", CgroupConversions.WeightDeviceLine(8, 16, 500));
    }

    [Theory]
    [InlineData("2MB", true)]
    [InlineData("1GB", true)]
    [InlineData("64KB", true)]
    [InlineData("2mb", false)]
    [InlineData("MB", false)]
    [InlineData("02MB", false)]
    [InlineData("2MB/../x", false)]
    [InlineData("", false)]
    public void HugepageSizesAreValidated(string size, bool valid) =>
        Assert.Equal(valid, CgroupConversions.IsHugepageSize(size));

    [Fact]
    public void DeviceRulesBecomeCgroupLines()
    {
        Assert.Equal((false, "a"), Line(new LinuxDeviceCgroup { Allow = false, Access = "rwm" }));
        Assert.Equal((true, "a"), Line(new LinuxDeviceCgroup { Allow = true, Type = "a" }));
        Assert.Equal((true, "c 1:3 rwm"), Line(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 1, Minor = 3 }));
        Assert.Equal((true, "c 136:* rw"), Line(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 136, Access = "rw" }));
        Assert.Equal((false, "b *:* m"), Line(new LinuxDeviceCgroup { Type = "b", Major = -1, Minor = -1, Access = "m" }));
        Assert.Throws<InvalidSpecException>(() => Line(new LinuxDeviceCgroup { Type = "x" }));
        Assert.Throws<InvalidSpecException>(() => Line(new LinuxDeviceCgroup { Type = "c", Access = "rwx" }));
        Assert.Throws<InvalidSpecException>(() => Line(new LinuxDeviceCgroup { Type = "c", Access = "rr" }));

        static (bool, string) Line(LinuxDeviceCgroup rule)
        {
            var parsed = CgroupConversions.ParseDeviceRule(rule);
            return (parsed.Allow, parsed.Line);
        }
    }

    [Fact]
    public void DeviceWritesDenyAllFirstThenRulesThenRuncDefaults()
    {
        var writes = CgroupConversions.DeviceRules(
        [
            new LinuxDeviceCgroup { Allow = false, Access = "rwm" },
            new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 10, Minor = 229, Access = "rwm" },
        ]).Select(rule => (rule.Allow, rule.Line)).ToList();
        Assert.Equal((false, "a"), writes[0]);
        Assert.Equal((true, "c 10:229 rwm"), writes[1]);   // the spec's own deny-all is not written twice
        Assert.Equal((true, "c *:* m"), writes[2]);
        Assert.Contains((true, "c 1:3 rwm"), writes);
        Assert.Contains((true, "c 5:2 rwm"), writes);
        Assert.Equal(2 + CgroupConversions.DefaultAllowedDevices.Count, writes.Count);
    }

    [Theory]
    [InlineData("memory.high", true)]
    [InlineData("cgroup.max.descendants", true)]
    [InlineData("../memory.max", false)]
    [InlineData("a/memory.max", false)]
    [InlineData("..", false)]
    [InlineData("", false)]
    [InlineData(".hidden", false)]
    [InlineData("cgroup.max.depth", true)]
    [InlineData("cgroup.procs", false)]
    [InlineData("cgroup.threads", false)]
    [InlineData("cgroup.kill", false)]
    [InlineData("cgroup.freeze", false)]
    [InlineData("cgroup.subtree_control", false)]
    [InlineData("cgroup.type", false)]
    [InlineData("memory", false)]
    [InlineData("memory.", false)]
    [InlineData("devices.allow", false)]
    [InlineData("io.max", true)]
    public void UnifiedKeysAreFilesOfAControllerOrTheCoreLimits(string key, bool valid)
    {
        if (valid)
        {
            CgroupConversions.ValidateUnifiedKey(key);
        }
        else
        {
            Assert.Throws<InvalidSpecException>(() => CgroupConversions.ValidateUnifiedKey(key));
        }
    }

    [Fact]
    public void UnifiedKeysOfAControllerNotEnabledNameIt()
    {
        var enabled = new HashSet<string> { "cpu", "memory" };
        Assert.Null(UnifiedKeys.MissingController("memory.high", enabled));
        Assert.Equal("pids", UnifiedKeys.MissingController("pids.max", enabled));
        // A hybrid node's cgroup2 tree enables none: only the core limits pass.
        Assert.Null(UnifiedKeys.MissingController("cgroup.max.descendants", new HashSet<string>()));
    }

    [Fact]
    public void CgroupsPathsAreNormalisedAndChecked()
    {
        Assert.Equal("kubepods/pod1/c1", CgroupConversions.NormalizePath("/kubepods/pod1/c1/"));
        Assert.Throws<InvalidSpecException>(() => CgroupConversions.NormalizePath("/"));
        Assert.Throws<InvalidSpecException>(() => CgroupConversions.NormalizePath("kubepods/../../etc"));
        Assert.Throws<InvalidSpecException>(() => CgroupConversions.NormalizePath("a//b"));
    }

    [Fact]
    public void ValidateRefusesBadInputBeforeAnyWrite()
    {
        Assert.Throws<InvalidSpecException>(() => CgroupConversions.Validate(new LinuxResources { Unified = new Dictionary<string, string> { ["../x"] = "1" } }, 2));
        Assert.Throws<InvalidSpecException>(() => CgroupConversions.Validate(new LinuxResources { HugepageLimits = [new() { PageSize = "2M", Limit = 0 }] }, 1));
        Assert.Throws<InvalidSpecException>(() => CgroupConversions.Validate(new LinuxResources { Memory = new() { Limit = 2000, Swap = 1000 } }, 1));
        Assert.Throws<InvalidSpecException>(() => CgroupConversions.Validate(new LinuxResources { Memory = new() { Swappiness = 101 } }, 1));
        // v1 may set memsw alone; v2 cannot convert swap without a limit.
        CgroupConversions.Validate(new LinuxResources { Memory = new() { Swap = 1000 } }, 1);
        Assert.Throws<InvalidSpecException>(() => CgroupConversions.Validate(new LinuxResources { Memory = new() { Swap = 1000 } }, 2));
        CgroupConversions.Validate(new LinuxResources { Memory = new() { Limit = 1000, Swap = -1, Swappiness = ulong.MaxValue } }, 2);
    }
}
