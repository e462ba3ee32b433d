using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.RuntimeService.Handlers;
using Berth.RuntimeService.Node.Systemd;
using Berth.RuntimeService.Specs;
using Google.Protobuf;
using Xunit;

namespace Berth.Tests.Unit.Node;

/// <summary>The systemd cgroup driver's pure parts: what RuntimeConfig puts on the wire, slice paths, unit properties per resource.</summary>
public sealed class SystemdDriverTests
{
    private static readonly Func<char, long, string?> Groups = (kind, major) => (kind, major) switch
    {
        ('c', 136) => "pts",
        ('c', 10) => "misc",
        _ => null,
    };

    [Fact]
    public void RuntimeConfigAlwaysCarriesTheLinuxMessage()
    {
        // SYSTEMD is 0 in the CRI enum and proto3 never writes 0: the linux message (field 1) must still be there, empty.
        Assert.Equal(new byte[] { 0x0A, 0x00 }, CriRuntimeService.RuntimeConfigFor(CgroupDriverKind.Systemd).ToByteArray());
        Assert.Equal(new byte[] { 0x0A, 0x02, 0x08, 0x01 }, CriRuntimeService.RuntimeConfigFor(CgroupDriverKind.Cgroupfs).ToByteArray());
        var read = RuntimeConfigResponse.Parser.ParseFrom([0x0A, 0x00]);
        Assert.NotNull(read.Linux);
        Assert.Equal(CgroupDriver.Systemd, read.Linux.CgroupDriver);
    }

    [Theory]
    [InlineData("kubepods-burstable-podabc.slice", "", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podabc.slice")]
    [InlineData("kubepods-podabc.slice", "/test-root", "/test-root/kubepods.slice/kubepods-podabc.slice")]
    [InlineData("kubepods.slice", "", "/kubepods.slice")]
    [InlineData("", "", "/berth.slice/berth-s1.slice")]
    public void PodSlicesExpandBelowSystemdsRoot(string parent, string root, string expected)
    {
        var pod = new PodSandboxConfig { Linux = new LinuxPodSandboxConfig { CgroupParent = parent } };
        string path = CgroupPaths.Pod(pod, "s1", new CgroupNaming(CgroupDriverKind.Systemd, root));
        Assert.Equal(expected, path);
        Assert.Equal(expected + "/berth-c1.scope", CgroupPaths.Container(path, "c1"));
    }

    [Theory]
    [InlineData("/kubepods/burstable/podabc")]
    [InlineData("kubepods--x.slice")]
    [InlineData("-kubepods.slice")]
    [InlineData("kubepods")]
    [InlineData("-.slice")]
    public void SystemdRefusesWhatIsNotASliceName(string parent)
    {
        var pod = new PodSandboxConfig { Linux = new LinuxPodSandboxConfig { CgroupParent = parent } };
        var error = Assert.Throws<SpecException>(() => CgroupPaths.Pod(pod, "s1", new CgroupNaming(CgroupDriverKind.Systemd)));
        Assert.Contains(parent, error.Message);
    }

    [Fact]
    public void UnitNamesComeFromTheLastElement()
    {
        Assert.Equal("berth-c1.scope", CgroupPaths.UnitName("/a.slice/berth-c1.scope"));
        Assert.Equal("a-b.slice", CgroupPaths.UnitName("/a.slice/a-b.slice"));
        Assert.Null(CgroupPaths.UnitName("/berth/s1/c1"));
    }

    [Fact]
    public void AScopeIsDelegatedWithItsPidAndAccounting()
    {
        var properties = UnitProperties.Scope("berth container x", "pod.slice", 4242, null, 1, Groups).ToDictionary(p => p.Name, p => p.Value);
        Assert.Equal(new UnitString("pod.slice"), properties["Slice"]);
        Assert.Equal(new UnitBool(true), properties["Delegate"]);
        Assert.Equal(new UnitBool(false), properties["DefaultDependencies"]);
        Assert.Equal([4242u], ((UnitUInt32Array)properties["PIDs"]).Value);
        Assert.True(properties.ContainsKey("BlockIOAccounting"));
        Assert.Contains(UnitProperties.Scope("d", "pod.slice", 1, null, 2, Groups), p => p.Name == "IOAccounting");
    }

    [Fact]
    public void LimitsOnCgroupV1()
    {
        var resources = new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 64 << 20, Swap = 64 << 20 },
            Cpu = new LinuxCpu { Shares = 512, Quota = 50_000, Period = 100_000, Cpus = "0-1" },
            Pids = new LinuxPids { Limit = 100 },
            BlockIO = new LinuxBlockIO { Weight = 500 },
        };
        var properties = UnitProperties.Resources(resources, 1, Groups).ToDictionary(p => p.Name, p => p.Value);
        Assert.Equal(new UnitUInt64(64 << 20), properties["MemoryLimit"]);
        Assert.Equal(new UnitUInt64(512), properties["CPUShares"]);
        Assert.Equal(new UnitUInt64(500_000), properties["CPUQuotaPerSecUSec"]);
        Assert.Equal(new UnitUInt64(100_000), properties["CPUQuotaPeriodUSec"]);
        Assert.Equal(new UnitUInt64(100), properties["TasksMax"]);
        Assert.Equal(new UnitUInt64(500), properties["BlockIOWeight"]);
        // v2-only properties are not sent to a v1 systemd: cpuset and swap stay in the shim's files.
        Assert.False(properties.ContainsKey("AllowedCPUs"));
        Assert.False(properties.ContainsKey("MemorySwapMax"));
    }

    [Fact]
    public void LimitsOnCgroupV2()
    {
        var resources = new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 100, Reservation = 50, Swap = 300 },
            Cpu = new LinuxCpu { Shares = 1024, Quota = 12_345, Cpus = "0-2,9", Mems = "0" },
            Pids = new LinuxPids { Limit = -1 },
            BlockIO = new LinuxBlockIO { Weight = 1000 },
        };
        var properties = UnitProperties.Resources(resources, 2, Groups).ToDictionary(p => p.Name, p => p.Value);
        Assert.Equal(new UnitUInt64(100), properties["MemoryMax"]);
        Assert.Equal(new UnitUInt64(50), properties["MemoryLow"]);
        Assert.Equal(new UnitUInt64(200), properties["MemorySwapMax"]);
        Assert.Equal(new UnitUInt64(39), properties["CPUWeight"]);
        // 12345 µs per 100 ms is 123450 µs a second, kept by systemd in whole 10 ms: 130000.
        Assert.Equal(new UnitUInt64(130_000), properties["CPUQuotaPerSecUSec"]);
        Assert.False(properties.ContainsKey("CPUQuotaPeriodUSec"));
        Assert.Equal(new byte[] { 0x07, 0x02 }, ((UnitBytes)properties["AllowedCPUs"]).Value);
        Assert.Equal(new byte[] { 0x01 }, ((UnitBytes)properties["AllowedMemoryNodes"]).Value);
        Assert.Equal(new UnitUInt64(ulong.MaxValue), properties["TasksMax"]);
        Assert.Equal(new UnitUInt64(10000), properties["IOWeight"]);
    }

    [Theory]
    [InlineData(2UL, 1UL)]
    [InlineData(1024UL, 39UL)]
    [InlineData(262144UL, 10000UL)]
    public void SharesBecomeWeights(ulong shares, ulong weight) => Assert.Equal(weight, UnitProperties.CpuWeight(shares));

    [Fact]
    public void NoLimitsGiveNoProperties()
    {
        Assert.Empty(UnitProperties.Resources(new LinuxResources { Memory = new LinuxMemory(), Cpu = new LinuxCpu() }, 2, Groups));
        Assert.Equal(ulong.MaxValue, UnitProperties.QuotaPerSecond(-1, 100_000));
    }

    [Fact]
    public void DeviceRulesBecomeAStrictAllowList()
    {
        LinuxDeviceCgroup[] rules =
        [
            new() { Allow = false, Access = "rwm" },
            new() { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwm" },
            new() { Allow = true, Type = "c", Major = 136, Access = "rwm" },
            new() { Allow = true, Type = "b", Access = "m" },
            new() { Allow = true, Type = "c", Major = 999, Access = "r" },
            new() { Allow = false, Type = "c", Major = 1, Minor = 3, Access = "w" },
        ];
        var properties = UnitProperties.Devices(rules, Groups);
        Assert.Equal(new UnitProperty("DevicePolicy", new UnitString("strict")), properties[0]);
        // A major /proc/devices does not name cannot be said to systemd; a lone deny rule neither (the shim's files keep it).
        Assert.Equal([("/dev/char/1:3", "rwm"), ("char-pts", "rwm"), ("block-*", "m")], ((UnitPairs)properties[1].Value).Value);
    }

    [Fact]
    public void AnAllowAllRuleOpensEverything()
    {
        LinuxDeviceCgroup[] rules = [new() { Allow = false }, new() { Allow = true, Access = "rwm" }, new() { Allow = true, Type = "c", Major = 1, Minor = 3 }];
        var properties = UnitProperties.Devices(rules, Groups);
        Assert.Equal(new UnitString("auto"), properties[0].Value);
        Assert.Empty(((UnitPairs)properties[1].Value).Value);
    }

    [Fact]
    public void ProcDevicesNamesMajors()
    {
        const string text = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n";
        Assert.Equal("pts", DeviceGroups.Parse(text, 'c', 136));
        Assert.Equal("sd", DeviceGroups.Parse(text, 'b', 8));
        Assert.Null(DeviceGroups.Parse(text, 'b', 136));
    }
}
