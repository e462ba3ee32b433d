using Berth.Api.Shim.Cgroups;
using Berth.RuntimeService.Configuration;
using Berth.RuntimeService.Stats;
using Berth.Tests.Unit.Fakes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Tests.Unit.Stats;

/// <summary>The collector over the middle layer's fakes: samples from memory, on-demand first samples, pairs and forgetting.</summary>
public sealed class StatsCollectorTests : IDisposable
{
    private readonly MiddleLayer _layer = new();
    private readonly StatsCollector _collector;

    public StatsCollectorTests()
    {
        _collector = new StatsCollector(_layer.Registry, _layer.Node, _layer.Paths, new BerthConfig(), NullLogger<StatsCollector>.Instance);
    }

    public void Dispose()
    {
        _collector.Dispose();
        _layer.Dispose();
    }

    private static CgroupUsage Cpu(ulong nanoseconds, ulong workingSet = 0) =>
        new(nanoseconds, new CgroupMemory(workingSet, workingSet, 0, 0, 0, 0, 0, null, 0), null, 1, null, null, null);

    [Fact]
    public async Task AContainerNotSampledYetIsSampledOnDemandAndPairedByTheNextPass()
    {
        var pod = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(pod);
        _layer.Node.Usage[container.Record.CgroupPath] = Cpu(1_000_000_000);

        var first = _collector.Of(container);
        Assert.Equal(1_000_000_000UL, first.Latest.Cgroup?.CpuNanoseconds);
        Assert.Null(first.Previous);
        Assert.Same(first, _collector.Of(container));                  // answered from memory now
        Assert.Equal(1, _layer.Node.UsageReads[container.Record.CgroupPath]);

        _layer.Node.Usage[container.Record.CgroupPath] = Cpu(3_000_000_000);
        _collector.SampleAll();
        var pair = _collector.Of(container);

        Assert.Same(first.Latest, pair.Previous);
        Assert.Equal(3_000_000_000UL, pair.Latest.Cgroup?.CpuNanoseconds);
        Assert.True(pair.Latest.Timestamp > pair.Previous!.Timestamp);
    }

    [Fact]
    public async Task APassSamplesPodsWithTheirNetworkAndForgetsWhatIsGone()
    {
        var pod = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(pod);
        _layer.Node.Usage[pod.PodCgroup] = Cpu(5, workingSet: 4096);
        var eth0 = new InterfaceCounters("eth0", 100, 2, 0, 0, 300, 4, 1, 0);
        _layer.Node.Interfaces[pod.NetworkNamespace!] = [eth0];

        _collector.SampleAll();
        var sample = _collector.Of(pod).Latest;

        Assert.Equal(4096UL, sample.Cgroup?.Memory?.WorkingSet);
        Assert.Equal([eth0], sample.Interfaces);

        await _layer.Pods.RemoveAsync(pod);
        int readsBefore = _layer.Node.UsageReads.GetValueOrDefault(container.Record.CgroupPath);
        _collector.SampleAll();
        Assert.Equal(readsBefore, _layer.Node.UsageReads.GetValueOrDefault(container.Record.CgroupPath));
    }

    [Fact]
    public async Task AHostNetworkPodHasNoInterfaces()
    {
        var config = _layer.PodConfig();
        config.Linux.SecurityContext = new Berth.Api.Cri.LinuxSandboxSecurityContext
        {
            NamespaceOptions = new Berth.Api.Cri.NamespaceOption { Network = Berth.Api.Cri.NamespaceMode.Node },
        };
        var pod = await _layer.RunPodAsync(config);

        Assert.Null(_collector.Of(pod).Latest.Interfaces);
    }

    [Fact]
    public async Task TheWritableLayerIsMeasured()
    {
        var pod = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(pod);
        string upper = Path.Combine(_layer.Paths.ContainerLayer(container.Id), "upper");
        Directory.CreateDirectory(Path.Combine(upper, "tmp"));
        File.WriteAllBytes(Path.Combine(upper, "tmp", "data"), new byte[64 * 1024]);

        var layer = _collector.Of(container).Latest.WritableLayer;

        Assert.NotNull(layer);
        Assert.Equal(3UL, layer.Inodes);                               // upper, tmp, data
        Assert.True(layer.Bytes >= 64 * 1024, $"{layer.Bytes} bytes");
    }

    [Fact]
    public async Task AWritableLayerIsWalkedAgainOnlyAfterItsContainerUsedCpu()
    {
        var pod = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(pod);
        string upper = Path.Combine(_layer.Paths.ContainerLayer(container.Id), "upper");
        Directory.CreateDirectory(upper);
        _layer.Node.Usage[container.Record.CgroupPath] = Cpu(1_000_000);
        _collector.SampleAll();
        var first = _collector.Of(container).Latest.WritableLayer;
        Assert.Equal(1UL, first?.Inodes);                               // upper alone

        // Written from outside its cgroup while it used no CPU: the figure stands (until LayerMaxAge).
        File.WriteAllBytes(Path.Combine(upper, "data"), new byte[4096]);
        _collector.SampleAll();
        Assert.Same(first, _collector.Of(container).Latest.WritableLayer);

        _layer.Node.Usage[container.Record.CgroupPath] = Cpu(2_000_000);
        _collector.SampleAll();
        var walked = _collector.Of(container).Latest.WritableLayer;
        Assert.Equal(2UL, walked?.Inodes);                              // upper, data
        Assert.True(walked!.Timestamp > first!.Timestamp);
    }

    [Fact]
    public async Task CriStatsCarryTheSamplesAndLeaveWhatTheNodeCouldNotGiveUnset()
    {
        var pod = await _layer.RunPodAsync();
        var running = await _layer.CreateAsync(pod, "running");
        var gone = await _layer.CreateAsync(pod, "gone");
        _layer.Node.Usage[running.Record.CgroupPath] = Cpu(1_000_000_000, workingSet: 8192);
        _layer.Node.Usage[pod.PodCgroup] = Cpu(2_000_000_000, workingSet: 16384);
        _layer.Node.Interfaces[pod.NetworkNamespace!] = [new InterfaceCounters("eth0", 1, 1, 0, 0, 2, 2, 0, 0), new InterfaceCounters("net1", 5, 1, 0, 0, 6, 1, 0, 0)];
        _collector.SampleAll();
        _layer.Node.Usage[running.Record.CgroupPath] = Cpu(1_500_000_000, workingSet: 8192);
        _collector.SampleAll();

        var stats = CriStats.Container(running, _collector.Of(running), _collector.LayerFilesystem);
        Assert.Equal(running.Id, stats.Attributes.Id);
        Assert.Equal("running", stats.Attributes.Metadata.Name);
        Assert.Equal(1_500_000_000UL, stats.Cpu.UsageCoreNanoSeconds.Value);
        Assert.NotNull(stats.Cpu.UsageNanoCores);
        Assert.Equal(8192UL, stats.Memory.WorkingSetBytes.Value);
        Assert.Null(stats.Memory.AvailableBytes);                       // no limit: unset, as containerd leaves it
        Assert.Null(stats.Swap);

        var none = CriStats.Container(gone, _collector.Of(gone), _collector.LayerFilesystem);
        Assert.NotEqual(0, none.Cpu.Timestamp);
        Assert.Null(none.Cpu.UsageCoreNanoSeconds);                     // no cgroup: none, never 0
        Assert.Null(none.Memory.WorkingSetBytes);

        // An exited container's cgroup still has figures; they are not reported, as containerd reports none without a task.
        var exited = await _layer.CreateAsync(pod, "exited");
        _layer.Node.Usage[exited.Record.CgroupPath] = Cpu(3_000_000_000, workingSet: 4096);
        await _layer.Containers.StartAsync(exited, CancellationToken.None);
        _layer.Runtime[exited.Id].Exit(0, "Completed");
        await exited.Exited;
        _collector.SampleAll();
        var ended = CriStats.Container(exited, _collector.Of(exited), _collector.LayerFilesystem);
        Assert.Null(ended.Cpu);
        Assert.Null(ended.Memory);

        var podStats = CriStats.Pod(pod, _collector.Of(pod), [stats, none]);
        Assert.Equal(pod.Id, podStats.Attributes.Id);
        Assert.Equal(16384UL, podStats.Linux.Memory.WorkingSetBytes.Value);
        Assert.Equal(1UL, podStats.Linux.Process.ProcessCount.Value);
        Assert.Equal("eth0", podStats.Linux.Network.DefaultInterface.Name);
        Assert.Equal(["eth0", "net1"], podStats.Linux.Network.Interfaces.Select(item => item.Name));
        Assert.Equal(2, podStats.Linux.Containers.Count);
    }

    [Fact]
    public async Task PodMetricsCarryOneLabelValuePerDescriptorKey()
    {
        var pod = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(pod);
        _layer.Node.Usage[container.Record.CgroupPath] = Cpu(7_500_000_000, workingSet: 8192);
        _layer.Node.Usage[pod.PodCgroup] = Cpu(9_000_000_000, workingSet: 16384);
        _layer.Node.Interfaces[pod.NetworkNamespace!] = [new InterfaceCounters("eth0", 10, 1, 0, 0, 20, 2, 0, 0)];
        _collector.SampleAll();
        var descriptors = CadvisorMetrics.Descriptors().ToDictionary(descriptor => descriptor.Name);

        var metrics = CadvisorMetrics.Pod(pod, _collector.Of(pod).Latest, [(container, _collector.Of(container).Latest)]);

        var all = metrics.Metrics.Concat(metrics.ContainerMetrics.SelectMany(item => item.Metrics)).ToList();
        Assert.All(all, metric => Assert.Equal(descriptors[metric.Name].LabelKeys.Count, metric.LabelValues.Count));
        var cpu = Assert.Single(metrics.ContainerMetrics.Single().Metrics, metric => metric.Name == "container_cpu_usage_seconds_total");
        Assert.Equal(7UL, cpu.Value.Value);                              // whole seconds
        Assert.Equal(Berth.Api.Cri.MetricType.Counter, cpu.MetricType);
        Assert.Equal(["web", "default", "app", container.Id, FakeContainerImages.Name], cpu.LabelValues);
        var rx = Assert.Single(metrics.Metrics, metric => metric.Name == "container_network_receive_bytes_total");
        Assert.Equal(["web", "default", "", pod.Id, "", "eth0"], rx.LabelValues);
        Assert.Equal(10UL, rx.Value.Value);
    }
}
