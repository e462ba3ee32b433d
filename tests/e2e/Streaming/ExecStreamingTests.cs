using System.Net;
using System.Security.Cryptography;
using System.Threading.Channels;
using Berth.Api.Cri;
using Berth.Api.Streaming.Client;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Pods;
using Grpc.Core;
using static Berth.Tests.E2e.Pods.PodTestSupport;
using static Berth.Tests.E2e.Streaming.StreamingTestSupport;

namespace Berth.Tests.E2e.Streaming;

/// <summary>CRI Exec through berthd's streaming server, as kubelet and crictl use it, over SPDY and WebSocket.</summary>
public sealed class ExecStreamingTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    public static TheoryData<StreamingTransport> AllTransports => new(Transports);

    [Theory]
    [MemberData(nameof(AllTransports))]
    public async Task OutputErrorsAndExitCodesArriveAsTheCommandGaveThem(StreamingTransport transport)
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", null, "sleep", "300");

        var failed = await berth.ExecAsync(pod.ContainerId, transport, null, tty: false, null, "sh", "-c", "echo out; echo err >&2; exit 3");
        Assert.Equal("out\n", failed.StdoutText);
        Assert.Equal("err\n", failed.Stderr);
        Assert.Equal(3, failed.Result.ExitCode);
        Assert.Equal(ExecStatus.NonZeroExitCodeReason, failed.Result.Status!.Reason);
        Assert.Contains("exit code 3", failed.Result.Status.Message);

        var succeeded = await berth.ExecAsync(pod.ContainerId, transport, null, tty: false, null, "true");
        Assert.Null(succeeded.Result.Status);
        Assert.Equal(transport == StreamingTransport.Spdy ? StreamProtocols.V4 : StreamProtocols.V5, succeeded.Result.Protocol);

        var missing = await berth.ExecAsync(pod.ContainerId, transport, null, tty: false, null, "no-such-program");
        Assert.Equal(ExecStatus.InternalErrorReason, missing.Result.Status!.Reason);
        Assert.Contains("no-such-program", missing.Result.Status.Message);
        Assert.Null(missing.Result.ExitCode);
    }

    [Theory]
    [MemberData(nameof(AllTransports))]
    public async Task StdinPipedToCatComesBackWholeAndEndsTheCommand(StreamingTransport transport)
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", null, "sleep", "300");
        byte[] input = RandomNumberGenerator.GetBytes(256 * 1024);

        var echoed = await berth.ExecAsync(pod.ContainerId, transport, input, tty: false, null, "cat");

        Assert.Null(echoed.Result.Status);
        Assert.Equal(input.Length, echoed.Stdout.Length);
        Assert.True(input.AsSpan().SequenceEqual(echoed.Stdout), "the bytes that came back differ from those sent");
    }

    [Theory]
    [MemberData(nameof(AllTransports))]
    public async Task ATerminalOfTheContainersOwnSeesItsSizeAndItsResize(StreamingTransport transport)
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", null, "sleep", "300");
        var sizes = Channel.CreateUnbounded<TerminalSize>();
        var input = new ScriptedInput();
        var url = await berth.ExecUrlAsync(pod.ContainerId, stdin: true, tty: true, "sh", "-c",
            "read a; stty size; read b; stty size; echo TERM=$TERM; t=$(tty) && echo TTY=$t && test -c $t && echo THE-TERMINAL-EXISTS; exit 5");

        var session = RunSessionAsync(url, transport, input, tty: true, sizes.Reader);
        await sizes.Writer.WriteAsync(new TerminalSize(100, 30));
        await Task.Delay(500);
        input.Send("go\n");
        await Task.Delay(500);
        await sizes.Writer.WriteAsync(new TerminalSize(132, 43));
        await Task.Delay(500);
        input.Send("go\n");
        var output = await session;

        Assert.Contains("30 100", output.StdoutText);
        Assert.Contains("43 132", output.StdoutText);
        Assert.Contains("TERM=xterm", output.StdoutText);
        // The pty is the container's own (its devpts), so tty names a device that exists in there.
        Assert.Matches(@"TTY=/dev/pts/\d+", output.StdoutText);
        Assert.Contains("THE-TERMINAL-EXISTS", output.StdoutText);
        Assert.Equal(5, output.Result.ExitCode);
    }

    [Theory]
    [MemberData(nameof(AllTransports))]
    public async Task AClientThatGoesAwayHasItsCommandKilled(StreamingTransport transport)
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", null, "sleep", "300");
        // A shell's child is killed with it: the command's whole process group goes.
        var url = await berth.ExecUrlAsync(pod.ContainerId, stdin: true, tty: false, "sh", "-c", "sleep 1000; echo late");
        using var gone = new CancellationTokenSource();

        var session = RunSessionAsync(url, transport, new ScriptedInput(), tty: false, vanish: gone.Token);
        Assert.True(await EventuallyAsync(async () => await berth.CountProcessesAsync(pod.ContainerId, "sleep 1000") == 1, TimeSpan.FromSeconds(10)));
        await Task.Delay(200);
        gone.Cancel();
        await Assert.ThrowsAnyAsync<Exception>(() => session);

        Assert.True(await EventuallyAsync(async () => await berth.CountProcessesAsync(pod.ContainerId, "sleep 1000") == 0, TimeSpan.FromSeconds(10)),
            "the exec'd command still runs after its client went away");
    }

    /// <summary>A command naming no program is refused up front, by Exec as by ExecSync (Exec handed out a URL whose session then failed as an internal error).</summary>
    [Fact]
    public async Task ACommandNamingNoProgramIsRefusedByExecAndExecSyncAlike()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", null, "sleep", "300");

        foreach (string[] cmd in new[] { Array.Empty<string>(), new[] { "" }, new[] { "", "x" } })
        {
            var exec = await Assert.ThrowsAsync<RpcException>(() =>
                berth.Runtime.ExecAsync(new ExecRequest { ContainerId = pod.ContainerId, Cmd = { cmd }, Stdout = true }).ResponseAsync);
            var execSync = await Assert.ThrowsAsync<RpcException>(() => berth.ExecAsync(pod.ContainerId, 10, cmd));
            Assert.Equal(StatusCode.InvalidArgument, exec.StatusCode);
            Assert.Equal((exec.StatusCode, exec.Status.Detail), (execSync.StatusCode, execSync.Status.Detail));
            Assert.StartsWith("cmd must name a command", exec.Status.Detail);
        }
    }

    [Fact]
    public async Task StoppingTheContainerEndsItsSessions()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", null, "sleep", "300");
        var spdy = RunSessionAsync(await berth.ExecUrlAsync(pod.ContainerId, stdin: false, tty: false, "sleep", "1000"), StreamingTransport.Spdy, null, tty: false);
        var webSocket = RunSessionAsync(await berth.ExecUrlAsync(pod.ContainerId, stdin: false, tty: true, "sleep", "1000"), StreamingTransport.WebSocket, null, tty: true);
        // Both sessions' commands run (waiting for one only passed while the other had not started yet).
        Assert.True(await EventuallyAsync(async () => await berth.CountProcessesAsync(pod.ContainerId, "sleep 1000") == 2, TimeSpan.FromSeconds(10)));

        await berth.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = pod.ContainerId, Timeout = 1 });

        foreach (var session in new[] { spdy, webSocket })
        {
            var ended = await session.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(137, ended.Result.ExitCode);
        }

        // Exec, Attach and ExecSync refuse the stopped container in one wording, its state spelled as crictl shows it.
        var exec = await Assert.ThrowsAsync<RpcException>(() =>
            berth.Runtime.ExecAsync(new ExecRequest { ContainerId = pod.ContainerId, Cmd = { "true" }, Stdout = true }).ResponseAsync);
        var execSync = await Assert.ThrowsAsync<RpcException>(() => berth.ExecAsync(pod.ContainerId, 10, "true"));
        var attach = await Assert.ThrowsAsync<RpcException>(() =>
            berth.Runtime.AttachAsync(new AttachRequest { ContainerId = pod.ContainerId, Stdout = true }).ResponseAsync);
        Assert.All(new[] { exec, execSync, attach }, refused => Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode));
        Assert.Contains($"cannot run a command in container {pod.ContainerId}: it is CONTAINER_EXITED, not running", exec.Status.Detail);
        Assert.Equal(exec.Status.Detail, execSync.Status.Detail);
        Assert.Contains($"cannot attach to container {pod.ContainerId}: it is CONTAINER_EXITED, not running", attach.Status.Detail);
    }

    [Theory]
    [MemberData(nameof(AllTransports))]
    public async Task AnIdleSessionIsClosedAtItsTimeoutWithAStatusThatSaysSo(StreamingTransport transport)
    {
        const int IdleSeconds = 3;
        await using var berth = await BerthDaemon.StartAsync(new { streaming = new { idleTimeoutSeconds = IdleSeconds } });
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", null, "sleep", "300");
        var url = await berth.ExecUrlAsync(pod.ContainerId, stdin: false, tty: false, "sleep", "1000");

        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var ended = await RunSessionAsync(url, transport, null, tty: false);
        TimeSpan closedAfter = System.Diagnostics.Stopwatch.GetElapsedTime(started);

        // client-go prints it as "error executing remote command: " and the message; containerd's session would end as a success.
        Assert.Equal((ExecStatus.TimeoutReason, 504), (ended.Result.Status?.Reason, ended.Result.Status?.Code));
        Assert.Equal($"the session was closed after {IdleSeconds}s without traffic (the idle timeout of the streaming server)", ended.Result.Status!.Message);
        // The timer restarts at each frame and the close follows its end, not up to a whole period later.
        Assert.InRange(closedAfter, TimeSpan.FromSeconds(IdleSeconds), TimeSpan.FromSeconds(IdleSeconds + 1) + Berth.Api.Streaming.IdleNotice.Bound);
        Assert.True(await EventuallyAsync(async () => await berth.CountProcessesAsync(pod.ContainerId, "sleep 1000") == 0, TimeSpan.FromSeconds(10)),
            "the idle session's command still runs");
    }

    [Fact]
    public async Task AUrlServesOneSessionAndBadRequestsGetClearAnswers()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", null, "sleep", "300");
        var url = await berth.ExecUrlAsync(pod.ContainerId, stdin: false, tty: false, "true");
        Assert.Equal(IPAddress.Loopback.ToString(), url.Host);
        Assert.StartsWith("/exec/", url.AbsolutePath);

        Assert.Null((await RunSessionAsync(url, StreamingTransport.Spdy, null, tty: false)).Result.Status);
        var used = await Assert.ThrowsAsync<StreamingUpgradeException>(() => RunSessionAsync(url, StreamingTransport.Spdy, null, tty: false));
        Assert.Equal(404, used.Status);
        var unknown = await Assert.ThrowsAsync<StreamingUpgradeException>(() =>
            RunSessionAsync(new Uri(url, "/exec/not-a-token"), StreamingTransport.Spdy, null, tty: false));
        Assert.Equal(404, unknown.Status);
        var noProtocol = await Assert.ThrowsAsync<StreamingUpgradeException>(async () =>
            await StreamingUpgradeClient.UpgradeSpdyAsync(await berth.ExecUrlAsync(pod.ContainerId, false, false, "true"), ["v9.channel.k8s.io"], CancellationToken.None));
        Assert.Equal(403, noProtocol.Status);
        Assert.Contains("unable to negotiate protocol", noProtocol.Body);

        var ttyAndStderr = await Assert.ThrowsAsync<RpcException>(() => berth.Runtime.ExecAsync(new ExecRequest
        {
            ContainerId = pod.ContainerId, Cmd = { "true" }, Tty = true, Stdout = true, Stderr = true,
        }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, ttyAndStderr.StatusCode);
        var noStreams = await Assert.ThrowsAsync<RpcException>(() => berth.Runtime.ExecAsync(new ExecRequest { ContainerId = pod.ContainerId, Cmd = { "true" } }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, noStreams.StatusCode);
        var noContainer = await Assert.ThrowsAsync<RpcException>(() => berth.Runtime.ExecAsync(new ExecRequest { ContainerId = "nope", Cmd = { "true" }, Stdout = true }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, noContainer.StatusCode);
    }
}

/// <summary>A stdin whose bytes the test sends when it chooses; it ends at <see cref="End"/> (or never).</summary>
internal sealed class ScriptedInput : Berth.Api.Streaming.AsyncDuplexStream
{
    private readonly Channel<byte[]> _chunks = Channel.CreateUnbounded<byte[]>();

    public void Send(string text) => _chunks.Writer.TryWrite(System.Text.Encoding.UTF8.GetBytes(text));

    public void End() => _chunks.Writer.TryComplete();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!await _chunks.Reader.WaitToReadAsync(cancellationToken))
        {
            return 0;
        }
        byte[] chunk = await _chunks.Reader.ReadAsync(cancellationToken);
        chunk.CopyTo(buffer);
        return chunk.Length;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("stdin is only read");
}
