using Berth.Api.Cri;
using Berth.Api.Streaming.Client;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Pods;
using static Berth.Tests.E2e.Pods.PodTestSupport;
using static Berth.Tests.E2e.Streaming.StreamingTestSupport;

namespace Berth.Tests.E2e.Streaming;

/// <summary>Sessions leave nothing behind in berthd or the shim, whatever way they end, and never hold up other calls.</summary>
public sealed class StreamingLeakTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    /// <summary>Threads .NET's pool may still hold a while after a burst; descriptors must come back exactly.</summary>
    private const int PoolThreadSlack = 6;

    [Fact]
    public async Task AHundredSessionsIncludingVanishingClientsLeaveNoDescriptorThreadOrProcess()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", config => config.Stdin = true, "sleep", "300");
        int shim = berth.ShimPid("containers", pod.ContainerId);
        // One of each kind first: the first session starts what every later one shares (the poller thread, pools).
        await RoundAsync(berth, pod, 0);
        await Task.Delay(1000);
        var before = (Berthd: Count(berth.ProcessId), Shim: Count(shim));

        for (int round = 1; round <= 25; round++)
        {
            await RoundAsync(berth, pod, round);
        }

        Assert.True(await EventuallyAsync(() => Task.FromResult(Count(berth.ProcessId).Descriptors <= before.Berthd.Descriptors
            && Count(shim) == before.Shim && Count(berth.ProcessId).Threads <= before.Berthd.Threads + PoolThreadSlack), TimeSpan.FromSeconds(30)),
            $"before: berthd {before.Berthd}, shim {before.Shim}; after: berthd {Count(berth.ProcessId)}, shim {Count(shim)}");
        Assert.Equal(0, await berth.CountProcessesAsync(pod.ContainerId, "sleep 1000"));
    }

    [Fact]
    public async Task OpenSessionsDoNotHoldUpOtherCalls()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", null, "sleep", "300");
        using var end = new CancellationTokenSource();
        // More sessions than the shim has connections for ordinary calls, each holding one.
        var sessions = Enumerable.Range(0, 20).Select(async _ =>
            await RunSessionAsync(await berth.ExecUrlAsync(pod.ContainerId, stdin: true, tty: false, "cat"), StreamingTransport.Spdy, new ScriptedInput(), tty: false, vanish: end.Token)).ToList();
        Assert.True(await EventuallyAsync(async () => await berth.CountProcessesAsync(pod.ContainerId, "cat") == 20, TimeSpan.FromSeconds(30)));

        var status = await berth.ContainerStatusAsync(pod.ContainerId).WaitAsync(TimeSpan.FromSeconds(5));
        var sync = await berth.ExecAsync(pod.ContainerId, 5, "echo", "still here").WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(ContainerState.ContainerRunning, status.State);
        Assert.Equal("still here\n", sync.Stdout.ToStringUtf8());
        end.Cancel();
        foreach (var session in sessions)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => session);
        }
    }

    /// <summary>Four sessions: exec over SPDY, exec with stdin over WebSocket, attach, and an exec whose client vanishes.</summary>
    private static async Task RoundAsync(BerthDaemon berth, StreamingPod pod, int round)
    {
        var exec = await berth.ExecAsync(pod.ContainerId, StreamingTransport.Spdy, null, tty: false, null, "echo", $"round {round}");
        Assert.Equal($"round {round}\n", exec.StdoutText);
        var cat = await berth.ExecAsync(pod.ContainerId, StreamingTransport.WebSocket, "x"u8.ToArray(), tty: false, null, "cat");
        Assert.Equal("x", cat.StdoutText);

        using var detach = new CancellationTokenSource();
        var attachUrl = new Uri((await berth.Runtime.AttachAsync(new AttachRequest { ContainerId = pod.ContainerId, Stdin = true, Stdout = true, Stderr = true })).Url);
        var attach = RunSessionAsync(attachUrl, StreamingTransport.Spdy, new ScriptedInput(), tty: false, vanish: detach.Token);

        using var vanish = new CancellationTokenSource();
        var sleeper = RunSessionAsync(await berth.ExecUrlAsync(pod.ContainerId, stdin: true, tty: round % 2 == 0, "sleep", "1000"),
            round % 2 == 0 ? StreamingTransport.Spdy : StreamingTransport.WebSocket, new ScriptedInput(), tty: round % 2 == 0, vanish: vanish.Token);
        await Task.Delay(200);
        vanish.Cancel();
        detach.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sleeper);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => attach);
    }

    /// <summary>A process's open descriptors and threads, from /proc.</summary>
    private static (int Descriptors, int Threads) Count(int pid) =>
        (Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length, Directory.GetDirectories($"/proc/{pid}/task").Length);
}
