using Berth.Api.Shim.Cgroups;
using Berth.RuntimeService.Stats;

namespace Berth.Tests.Unit.Stats;

/// <summary>Rates between samples, /proc/net/dev text, and which CRI fields stay unset.</summary>
public sealed class CriStatsTests
{
    [Fact]
    public void NanoCoresIsCpuTimeOverWallTimeBetweenSamples()
    {
        // 1.5 s of CPU over 2 s of wall time: three quarters of a core.
        Assert.Equal(750_000_000UL, SampleRates.NanoCores(12_000_000_000, 4_500_000_000, 10_000_000_000, 3_000_000_000));
        Assert.Null(SampleRates.NanoCores(12, 5, null, null));          // first sample: no rate yet
        Assert.Null(SampleRates.NanoCores(10, 5, 10, 3));               // no time between them
        Assert.Null(SampleRates.NanoCores(12, 2, 10, 3));               // counter went back (a new cgroup)
        Assert.Null(SampleRates.NanoCores(12, null, 10, 3));
    }

    [Fact]
    public void NetDevSkipsHeadersLoopbackAndBrokenLines()
    {
        const string text = """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
              eth0: 2837501    1912    3    4    0     0          0         0   130234    1101    5    6    0     0       0          0
              net1: 12 oops
            """;

        var interfaces = InterfaceCounters.ParseNetDev(text);

        var eth0 = Assert.Single(interfaces);
        Assert.Equal(new InterfaceCounters("eth0", 2837501, 1912, 3, 4, 130234, 1101, 5, 6), eth0);
    }

    [Fact]
    public void AvailableBytesOnlyUnderALimit()
    {
        var limited = new CgroupMemory(100, 80, 0, 0, 0, 0, 0, Limit: 200, FailCount: 0);
        var over = limited with { WorkingSet = 250 };
        var unlimited = limited with { Limit = null };

        Assert.Equal(120UL, limited.Available);
        Assert.Equal(0UL, over.Available);
        Assert.Null(unlimited.Available);
    }
}
