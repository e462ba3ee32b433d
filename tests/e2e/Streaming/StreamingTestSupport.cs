using System.Text;
using System.Threading.Channels;
using Berth.Api.Cri;
using Berth.Api.Streaming.Client;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Pods;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Streaming;

/// <summary>A pod with one running container, for a streaming test; <see cref="DisposeAsync"/> removes it and checks nothing is left.</summary>
internal sealed class StreamingPod(BerthDaemon berth, PodSandboxConfig pod, string podId, string containerId) : IAsyncDisposable
{
    public BerthDaemon Berth { get; } = berth;
    public PodSandboxConfig Pod { get; } = pod;
    public string PodId { get; } = podId;
    public string ContainerId { get; } = containerId;

    public async ValueTask DisposeAsync()
    {
        await Berth.RemovePodAsync(PodId);
        Assert.Empty(Traces(Berth, Pod));
    }
}

/// <summary>What a test's own exec or attach session gave back.</summary>
internal sealed record SessionOutput(RemoteCommandResult Result, byte[] Stdout, string Stderr)
{
    public string StdoutText => Encoding.UTF8.GetString(Stdout);
}

internal static class StreamingTestSupport
{
    public static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(60);

    public static StreamingTransport[] Transports { get; } = [StreamingTransport.Spdy, StreamingTransport.WebSocket];

    /// <summary>Pulls busybox, runs a pod and starts one container running <paramref name="command"/>.</summary>
    public static async Task<StreamingPod> RunContainerAsync(this BerthDaemon berth, PushedImage busybox, string name, Action<ContainerConfig>? configure, params string[] command)
    {
        await berth.PullAsync(busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var config = ContainerConfig(busybox, name, command);
        configure?.Invoke(config);
        var id = await berth.CreateContainerAsync(podId, pod, config);
        await berth.StartContainerAsync(id);
        return new StreamingPod(berth, pod, podId, id);
    }

    public static async Task<Uri> ExecUrlAsync(this BerthDaemon berth, string containerId, bool stdin, bool tty, params string[] command)
    {
        var request = new ExecRequest { ContainerId = containerId, Stdin = stdin, Stdout = true, Stderr = !tty, Tty = tty };
        request.Cmd.AddRange(command);
        return new Uri((await berth.Runtime.ExecAsync(request)).Url);
    }

    /// <summary>Runs <paramref name="command"/> through an exec URL with the project's client; <paramref name="stdin"/> is sent then closed.</summary>
    public static async Task<SessionOutput> ExecAsync(this BerthDaemon berth, string containerId, StreamingTransport transport, byte[]? stdin,
        bool tty, ChannelReader<TerminalSize>? resizes, params string[] command)
    {
        var url = await berth.ExecUrlAsync(containerId, stdin is not null, tty, command);
        return await RunSessionAsync(url, transport, stdin is null ? null : new MemoryStream(stdin), tty, resizes);
    }

    /// <summary>One session on <paramref name="url"/>; cancelling <paramref name="vanish"/> drops the connection, as a client that dies.</summary>
    public static async Task<SessionOutput> RunSessionAsync(Uri url, StreamingTransport transport, Stream? stdin, bool tty,
        ChannelReader<TerminalSize>? resizes = null, CancellationToken vanish = default)
    {
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(vanish);
        timeout.CancelAfter(SessionTimeout);
        var result = await RemoteCommandClient.RunAsync(url, new RemoteCommandStreams
        {
            Stdin = stdin,
            Stdout = stdout,
            Stderr = tty ? null : stderr,
            Tty = tty,
            Resizes = resizes,
        }, transport, cancellationToken: timeout.Token);
        return new SessionOutput(result, stdout.ToArray(), Encoding.UTF8.GetString(stderr.ToArray()));
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="within"/> passes.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }
            await Task.Delay(50);
        }
        return await condition();
    }

    /// <summary>The processes in the container that run <paramref name="program"/> (its ps, so only the container's pid namespace).</summary>
    public static async Task<int> CountProcessesAsync(this BerthDaemon berth, string containerId, string program)
    {
        var ps = await berth.ExecAsync(containerId, 10, "ps", "-o", "args");
        return ps.Stdout.ToStringUtf8().Split('\n').Count(line => line.Trim() == program);
    }
}
