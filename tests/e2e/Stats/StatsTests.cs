using System.Diagnostics;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Pods;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.NetworkTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Stats;

/// <summary>
/// CRI stats as kubelet and crictl read them, from a daemon sampling every second: CPU and memory of
/// real cgroups, writable layers, pod network counters, filters, and List calls that never reach a shim.
/// </summary>
public sealed class StatsTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    private const ulong Core = 1_000_000_000;

    private static readonly object FastSampling = new { statsCollectPeriodSeconds = 1 };

    [Fact]
    public async Task CpuMemoryAndWritableLayerOfRunningContainersFilteredByLabel()
    {
        await using var berth = await BerthDaemon.StartAsync(FastSampling);
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var burn = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "burn", "sh", "-c", "while :; do :; done"));
        var idle = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "idle", "sleep", "300"));
        // 5 MiB written to the writable layer, then 50 MiB that dd read from /dev/zero and holds while its write to sleep blocks.
        var hog = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "hog", "sh", "-c",
            "dd if=/dev/zero of=/tmp/blob bs=1048576 count=5 2>/dev/null; dd if=/dev/zero bs=52428800 count=1 2>/dev/null | sleep 300"));
        foreach (var id in new[] { burn, idle, hog })
        {
            await berth.StartContainerAsync(id);
        }
        await WaitForAsync(async () => (await berth.Runtime.ContainerStatsAsync(new ContainerStatsRequest { ContainerId = hog })).Stats.Memory
            .WorkingSetBytes?.Value > 50 << 20, "the hog's working set above 50 MiB");
        await Task.Delay(TimeSpan.FromSeconds(2.5));                   // two passes more: a rate over a settled interval

        var all = (await berth.Runtime.ListContainerStatsAsync(new ListContainerStatsRequest
        {
            Filter = new ContainerStatsFilter { PodSandboxId = podId },
        })).Stats.ToDictionary(stats => stats.Attributes.Id);

        Assert.Equal(new[] { burn, hog, idle }.Order(), all.Keys.Order());
        var burning = all[burn].Cpu;
        Assert.NotNull(burning.UsageNanoCores);
        // One thread spinning: at most one core, and on this shared machine well above nothing.
        Assert.InRange(burning.UsageNanoCores.Value, Core / 10, Core * 105 / 100);
        Assert.True(burning.UsageCoreNanoSeconds.Value > Core / 10, $"burned {burning.UsageCoreNanoSeconds.Value} ns");
        Assert.InRange(all[idle].Cpu.UsageNanoCores.Value, 0UL, Core / 50);
        var memory = all[hog].Memory;
        Assert.True(memory.WorkingSetBytes.Value > 50 << 20, $"working set {memory.WorkingSetBytes.Value}");
        Assert.True(memory.RssBytes.Value > 50 << 20, $"rss {memory.RssBytes.Value}");
        Assert.True(memory.PageFaults.Value > 0);
        Assert.Null(memory.AvailableBytes);                               // no limit
        Assert.True(all[hog].WritableLayer.UsedBytes.Value >= 5 << 20, $"writable layer {all[hog].WritableLayer.UsedBytes.Value}");
        Assert.True(all[hog].WritableLayer.InodesUsed.Value >= 2);
        // ImageFsInfo's container filesystem sums the same samples.
        var containers = (await berth.Images.ImageFsInfoAsync(new ImageFsInfoRequest())).ContainerFilesystems.Single();
        Assert.True(containers.UsedBytes.Value >= all[hog].WritableLayer.UsedBytes.Value, $"container filesystem {containers.UsedBytes.Value}");
        Assert.Equal("hog", all[hog].Attributes.Metadata.Name);

        var byLabel = await berth.Runtime.ListContainerStatsAsync(new ListContainerStatsRequest
        {
            Filter = new ContainerStatsFilter { LabelSelector = { ["container"] = "burn" } },
        });
        Assert.Equal(burn, Assert.Single(byLabel.Stats).Attributes.Id);
        var byPrefix = await berth.Runtime.ListContainerStatsAsync(new ListContainerStatsRequest { Filter = new ContainerStatsFilter { Id = idle[..12] } });
        Assert.Equal(idle, Assert.Single(byPrefix.Stats).Attributes.Id);
        var single = await berth.Runtime.ContainerStatsAsync(new ContainerStatsRequest { ContainerId = hog });
        Assert.Equal(hog, single.Stats.Attributes.Id);

        var podStats = (await berth.Runtime.PodSandboxStatsAsync(new PodSandboxStatsRequest { PodSandboxId = podId })).Stats;
        Assert.Equal(podId, podStats.Attributes.Id);
        Assert.True(podStats.Linux.Memory.WorkingSetBytes.Value > 50 << 20, $"pod working set {podStats.Linux.Memory.WorkingSetBytes.Value}");
        Assert.True(podStats.Linux.Process.ProcessCount.Value >= 4, $"{podStats.Linux.Process.ProcessCount.Value} processes");
        Assert.Equal(3, podStats.Linux.Containers.Count);
        Assert.Equal("eth0", podStats.Linux.Network.DefaultInterface.Name);

        var missing = await Assert.ThrowsAsync<RpcException>(async () => await berth.Runtime.ContainerStatsAsync(new ContainerStatsRequest { ContainerId = "nonexistent" }));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        await berth.RemoveLeavingNothingAsync(podId, pod);
        Assert.Empty((await berth.Runtime.ListContainerStatsAsync(new ListContainerStatsRequest())).Stats);
        Assert.Empty((await berth.Runtime.ListPodSandboxStatsAsync(new ListPodSandboxStatsRequest())).Stats);
    }

    [Fact]
    public async Task PodNetworkCountersGrowAfterTrafficBetweenTwoPods()
    {
        await using var berth = await BerthDaemon.StartAsync(FastSampling);
        await berth.PullAsync(registry.Busybox.Reference);
        var serverPod = PodConfig(berth);
        var clientPod = PodConfig(berth);
        var serverId = await berth.RunPodAsync(serverPod);
        var clientId = await berth.RunPodAsync(clientPod);
        // The server's page is a mebibyte: that much leaves the server pod and reaches the client pod.
        var server = ContainerConfig(registry.Busybox, "server", "sh", "-c",
            "mkdir -p /tmp/www && yes 0123456789abcdef | head -c 1048576 > /tmp/www/big && exec httpd -f -p 8080 -h /tmp/www");
        await berth.StartContainerAsync(await berth.CreateContainerAsync(serverId, serverPod, server));
        var client = await berth.CreateContainerAsync(clientId, clientPod, ContainerConfig(registry.Busybox, "client", "sleep", "300"));
        await berth.StartContainerAsync(client);
        string address = (await berth.PodStatusAsync(serverId)).Network.Ip;
        var serverBefore = await EthernetAsync(berth, serverId);
        var clientBefore = await EthernetAsync(berth, clientId);

        await WaitForAsync(async () => (await berth.ExecAsync(client, 30, "wget", "-q", "-O", "/dev/null", $"http://{address}:8080/big")).ExitCode == 0, "the download");
        NetworkInterfaceUsage serverAfter = null!;
        await WaitForAsync(async () => (serverAfter = await EthernetAsync(berth, serverId)).TxBytes.Value > serverBefore.TxBytes.Value + (1 << 20), "the server pod's tx counter");
        var clientAfter = await EthernetAsync(berth, clientId);

        Assert.True(clientAfter.RxBytes.Value > clientBefore.RxBytes.Value + (1 << 20), $"client rx {clientBefore.RxBytes.Value} -> {clientAfter.RxBytes.Value}");
        Assert.True(serverAfter.RxBytes.Value > serverBefore.RxBytes.Value, $"server rx {serverBefore.RxBytes.Value} -> {serverAfter.RxBytes.Value}");
        Assert.Equal(0UL, serverAfter.RxErrors.Value);
        Assert.Equal(0UL, serverAfter.TxErrors.Value);

        await berth.RemovePodAsync(serverId);
        await berth.RemoveLeavingNothingAsync(clientId, clientPod);
    }

    [Fact]
    public async Task ListsAnswerForTwoHundredContainersWhileEveryShimIsFrozen()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        const int Pods = 10, PerPod = 20;
        var pods = new List<(string Id, PodSandboxConfig Config)>();
        for (int p = 0; p < Pods; p++)
        {
            var config = PodConfig(berth);
            pods.Add((await berth.RunPodAsync(config), config));
        }
        await Parallel.ForEachAsync(pods, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (pod, _) =>
        {
            for (int c = 0; c < PerPod; c++)
            {
                await berth.CreateContainerAsync(pod.Id, pod.Config, ContainerConfig(registry.Busybox, $"c{c}", "sleep", "300"));
            }
        });

        // SIGSTOP every shim of this daemon: a call that asked one would hang until the deadline.
        var shims = Directory.EnumerateDirectories(Path.Combine(berth.State, "containers")).Select(dir => berth.ShimPid("containers", Path.GetFileName(dir)))
            .Concat(pods.Select(pod => berth.ShimPid("sandboxes", pod.Id))).ToList();
        Assert.Equal(Pods * PerPod + Pods, shims.Count);
        var options = new CallOptions(deadline: DateTime.UtcNow.AddSeconds(20));
        ListContainerStatsResponse containers;
        ListPodSandboxStatsResponse sandboxes;
        var clock = Stopwatch.StartNew();
        try
        {
            foreach (int pid in shims)
            {
                LibC.Signal(pid, LibC.SIGSTOP);
            }
            containers = await berth.Runtime.ListContainerStatsAsync(new ListContainerStatsRequest(), options);
            sandboxes = await berth.Runtime.ListPodSandboxStatsAsync(new ListPodSandboxStatsRequest(), options);
        }
        finally
        {
            foreach (int pid in shims)
            {
                LibC.Signal(pid, LibC.SIGCONT);
            }
        }

        Assert.Equal(Pods * PerPod, containers.Stats.Count);
        Assert.All(containers.Stats, stats => Assert.NotNull(stats.Memory.WorkingSetBytes));  // created: the cgroup is there
        Assert.Equal(Pods, sandboxes.Stats.Count);
        Assert.All(sandboxes.Stats, stats => Assert.Equal(PerPod, stats.Linux.Containers.Count));
        // The chunked form gives the same containers.
        using var stream = berth.Runtime.StreamContainerStats(new StreamContainerStatsRequest());
        var streamed = new List<string>();
        while (await stream.ResponseStream.MoveNext(CancellationToken.None))
        {
            streamed.AddRange(stream.ResponseStream.Current.ContainerStats.Select(stats => stats.Attributes.Id));
        }
        Assert.Equal(containers.Stats.Select(stats => stats.Attributes.Id).Order(), streamed.Order());
        foreach (var pod in pods)
        {
            await berth.RemovePodAsync(pod.Id);
        }
        Assert.Empty(await NetworkTracesAsync(berth));
        Assert.All(pods, pod => Assert.Empty(Traces(berth, pod.Config)));
    }

    [Fact]
    public async Task TheRuntimeCountsItsContainersSandboxesAndShimsAndTimesItsCollector()
    {
        int port = FreePort();
        await using var berth = await BerthDaemon.StartAsync(new { statsCollectPeriodSeconds = 1, metricsAddress = $"127.0.0.1:{port}" });
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var running = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "running", "sleep", "300"));
        await berth.StartContainerAsync(running);
        await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "created", "sleep", "300"));
        using var http = new HttpClient();
        string text = "";

        await WaitForAsync(async () => (text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics")).Split('\n').Any(line => line.StartsWith("berth_shims{", StringComparison.Ordinal) && line.EndsWith(" 3", StringComparison.Ordinal)), "three live shims");

        var lines = text.Split('\n');
        Assert.Contains(lines, line => line.StartsWith("berth_containers{", StringComparison.Ordinal) && line.Contains("state=\"running\"") && line.EndsWith(" 1", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("berth_containers{", StringComparison.Ordinal) && line.Contains("state=\"created\"") && line.EndsWith(" 1", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("berth_sandboxes{", StringComparison.Ordinal) && line.Contains("state=\"ready\"") && line.EndsWith(" 1", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("berth_stats_collect_lag", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("berth_stats_collect_duration", StringComparison.Ordinal) && line.Contains("_count"));
        // Buckets made for seconds (Telemetry.SecondsBuckets), not OpenTelemetry's default ones for milliseconds.
        var buckets = lines.Where(line => line.StartsWith("berth_stats_collect_duration_seconds_bucket", StringComparison.Ordinal)).ToList();
        Assert.Contains(buckets, line => line.Contains("le=\"0.0025\""));
        Assert.Contains(buckets, line => line.Contains("le=\"300\""));
        Assert.DoesNotContain(buckets, line => line.Contains("le=\"7500\""));

        await berth.RemoveLeavingNothingAsync(podId, pod);
    }

    private static async Task<NetworkInterfaceUsage> EthernetAsync(BerthDaemon berth, string podId) =>
        (await berth.Runtime.PodSandboxStatsAsync(new PodSandboxStatsRequest { PodSandboxId = podId })).Stats.Linux.Network.DefaultInterface;

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"waited 30 s for {what}");
            }
            await Task.Delay(200);
        }
    }
}
