using System.Net.WebSockets;
using System.Text;
using Berth.Api.Streaming.Channels;
using Berth.Api.Streaming.RemoteCommand;
using Berth.RuntimeService.Streaming;
using Berth.Tests.Unit.Fakes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Tests.Unit.Streaming;

/// <summary>Exec and attach sessions over real WebSocket channels (v5) and a fake shim: what goes in, what comes out, how they end.</summary>
public sealed class RemoteCommandSessionTests : IDisposable
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(10);
    private readonly MiddleLayer _layer = new();

    [Fact]
    public async Task AnExecCopiesStdinOutputAndResizesAndEndsWithTheExitStatus()
    {
        var container = await RunningContainerAsync();
        await using var client = await ChannelPair.OpenAsync(new RemoteCommandOptions(Stdin: true, Stdout: true, Stderr: false, Tty: true));
        var sessions = new RemoteCommandSessions(_layer.Containers, NullLogger<RemoteCommandSessions>.Instance);

        Task session = sessions.ExecAsync(container, ["sh"], client.Options, client.OpenAsync);
        FakeStdio process = await FirstAsync(_layer.Runtime.Execs);
        await client.Client.SendAsync(ChannelNumbers.Resize, new TerminalSize(90, 20).ToJson(), default);
        await client.Client.SendAsync(ChannelNumbers.Stdin, "ls\n"u8.ToArray(), default);
        await client.Client.CloseChannelAsync(ChannelNumbers.Stdin, default);
        await process.StdoutPipe.Writer.WriteAsync("a b\n"u8.ToArray());
        var typed = await process.StdinPipe.Reader.ReadAtLeastAsync(3).AsTask().WaitAsync(Quick);
        await MiddleLayer.EventuallyAsync(() => process.Resizes.Count == 1, "the resize");
        await process.ExitAsync(3);
        string output = await client.ReadAsync(ChannelNumbers.Stdout);
        string error = await client.ReadAsync(ChannelNumbers.Error);
        await client.Client.CloseAsync(Quick);
        await session.WaitAsync(Quick);

        Assert.Equal("ls\n", Encoding.ASCII.GetString(System.Buffers.BuffersExtensions.ToArray(typed.Buffer)));
        Assert.Equal([(90, 20)], process.Resizes);
        Assert.False(process.StdinClosed, "a terminal has no end of file to give");
        Assert.Equal("a b\n", output);
        Assert.Equal(3, ExecStatus.Decode(Encoding.UTF8.GetBytes(error), StreamProtocols.V5)!.ExitCode);
        Assert.True(process.Disposed.Task.IsCompleted);
    }

    [Fact]
    public async Task AnAttacherWhoseStdinEndsClosesAStdinOnceContainersStdin()
    {
        var container = await RunningContainerAsync();
        await using var client = await ChannelPair.OpenAsync(new RemoteCommandOptions(Stdin: true, Stdout: true, Stderr: true, Tty: false));
        var sessions = new RemoteCommandSessions(_layer.Containers, NullLogger<RemoteCommandSessions>.Instance);

        Task session = sessions.AttachAsync(container, client.Options, client.Server);
        FakeStdio attachment = await FirstAsync(_layer.Runtime.Attachments);
        await client.Client.SendAsync(ChannelNumbers.Stdin, "bye\n"u8.ToArray(), default);
        await client.Client.CloseChannelAsync(ChannelNumbers.Stdin, default);
        await MiddleLayer.EventuallyAsync(() => attachment.StdinClosed, "the container's stdin closed");
        Assert.False(session.IsCompleted, "with stdin_once the session goes on until the output ends");
        await attachment.ExitAsync(0);
        string error = await client.ReadAsync(ChannelNumbers.Error);
        await client.Client.CloseAsync(Quick);
        await session.WaitAsync(Quick);

        Assert.Null(ExecStatus.Decode(Encoding.UTF8.GetBytes(error), StreamProtocols.V5));
        Assert.True(attachment.Disposed.Task.IsCompleted);
    }

    [Fact]
    public async Task AClientThatGoesAwayEndsTheExecWithoutAStatus()
    {
        var container = await RunningContainerAsync();
        var client = await ChannelPair.OpenAsync(new RemoteCommandOptions(Stdin: false, Stdout: true, Stderr: true, Tty: false));
        var sessions = new RemoteCommandSessions(_layer.Containers, NullLogger<RemoteCommandSessions>.Instance);

        Task session = sessions.ExecAsync(container, ["sleep", "1000"], client.Options, client.OpenAsync);
        FakeStdio process = await FirstAsync(_layer.Runtime.Execs);
        await client.DisposeAsync();

        await session.WaitAsync(Quick);
        Assert.True(process.Disposed.Task.IsCompleted, "the process was not disposed (killed) when its client went away");
    }

    [Fact]
    public async Task TheCommandStartsOnceTheUpgradeIsAgreedAndIsKilledWhenTheStreamsNeverCome()
    {
        var container = await RunningContainerAsync();
        var sessions = new RemoteCommandSessions(_layer.Containers, NullLogger<RemoteCommandSessions>.Instance);
        var streamsCome = new TaskCompletionSource<RemoteCommandChannels?>(TaskCreationOptions.RunContinuationsAsynchronously);

        Task session = sessions.ExecAsync(container, ["true"], new RemoteCommandOptions(false, true, true, false), accepted =>
        {
            accepted();
            return streamsCome.Task;
        });
        FakeStdio process = await FirstAsync(_layer.Runtime.Execs);
        Assert.False(session.IsCompleted);
        streamsCome.SetResult(null);

        await session.WaitAsync(Quick);
        Assert.True(process.Disposed.Task.IsCompleted, "a command whose client never opened its streams was not killed");
    }

    [Fact]
    public async Task AnExecBeyondTheLimitEndsWithTooManyRequests()
    {
        var container = await RunningContainerAsync();
        await using var client = await ChannelPair.OpenAsync(new RemoteCommandOptions(Stdin: false, Stdout: true, Stderr: true, Tty: false));
        var sessions = new RemoteCommandSessions(_layer.Containers, NullLogger<RemoteCommandSessions>.Instance);
        _layer.Runtime.ExecFailure = new Berth.Core.Errors.BerthException(Berth.Core.Errors.ErrorKind.ResourceExhausted, "too many exec sessions open in the container at once (1)");

        Task session = sessions.ExecAsync(container, ["true"], client.Options, client.OpenAsync);
        string error = await client.ReadAsync(ChannelNumbers.Error);
        await client.Client.CloseAsync(Quick);
        await session.WaitAsync(Quick);

        var status = ExecStatus.Decode(Encoding.UTF8.GetBytes(error), StreamProtocols.V5)!;
        Assert.Equal((ExecStatus.TooManyRequestsReason, 429), (status.Reason, status.Code));
        Assert.Equal("error executing command in container: too many exec sessions open in the container at once (1)", status.Message);
    }

    [Fact]
    public async Task AnIdleSessionIsClosedWithAStatusThatSaysSo()
    {
        var container = await RunningContainerAsync();
        await using var client = await ChannelPair.OpenAsync(new RemoteCommandOptions(Stdin: false, Stdout: true, Stderr: true, Tty: false), TimeSpan.FromSeconds(1));
        var sessions = new RemoteCommandSessions(_layer.Containers, NullLogger<RemoteCommandSessions>.Instance);

        Task session = sessions.ExecAsync(container, ["sleep", "1000"], client.Options, client.OpenAsync);
        FakeStdio process = await FirstAsync(_layer.Runtime.Execs);
        string error = await client.ReadAsync(ChannelNumbers.Error);
        await session.WaitAsync(Quick);

        var status = ExecStatus.Decode(Encoding.UTF8.GetBytes(error), StreamProtocols.V5)!;
        Assert.Equal((ExecStatus.TimeoutReason, 504), (status.Reason, status.Code));
        Assert.Equal("the session was closed after 1s without traffic (the idle timeout of the streaming server)", status.Message);
        Assert.True(process.Disposed.Task.IsCompleted, "the command of an idle session was not killed");
    }

    public void Dispose() => _layer.Dispose();

    private async Task<Berth.RuntimeService.Containers.Container> RunningContainerAsync()
    {
        var container = await _layer.CreateAsync(await _layer.RunPodAsync());
        await _layer.Containers.StartAsync(container, CancellationToken.None);
        return container;
    }

    private static async Task<FakeStdio> FirstAsync(System.Collections.Concurrent.ConcurrentQueue<FakeStdio> started)
    {
        FakeStdio? first = null;
        await MiddleLayer.EventuallyAsync(() => started.TryPeek(out first), "a session reaching the shim");
        return first!;
    }

    /// <summary>The server's channels of a session and a v5 client's, over a loopback TCP connection.</summary>
    private sealed class ChannelPair : IAsyncDisposable
    {
        private readonly SpdyConnectionTests.SocketPair _sockets;

        private ChannelPair(SpdyConnectionTests.SocketPair sockets, WebSocketChannels client, WebSocketRemoteCommandChannels server, RemoteCommandOptions options)
        {
            _sockets = sockets;
            Client = client;
            Server = server;
            Options = options;
        }

        public WebSocketChannels Client { get; }
        public WebSocketRemoteCommandChannels Server { get; }
        public RemoteCommandOptions Options { get; }

        public static async Task<ChannelPair> OpenAsync(RemoteCommandOptions options, TimeSpan? idleTimeout = null)
        {
            var sockets = await SpdyConnectionTests.SocketPair.OpenAsync();
            var server = await StreamingUpgrade.OpenChannelsAsync(
                WebSocket.CreateFromStream(sockets.Server, isServer: true, StreamProtocols.V5, TimeSpan.Zero), StreamProtocols.V5, options, idleTimeout ?? Timeout.InfiniteTimeSpan);
            var client = new WebSocketChannels(WebSocket.CreateFromStream(sockets.Client, isServer: false, StreamProtocols.V5, TimeSpan.Zero),
                StreamProtocols.V5, [ChannelNumbers.Stdout, ChannelNumbers.Stderr, ChannelNumbers.Error], Timeout.InfiniteTimeSpan);
            client.Start();
            return new ChannelPair(sockets, client, server, options);
        }

        /// <summary>How the server's session gets its channels: at once, after starting what the upgrade starts.</summary>
        public Task<RemoteCommandChannels?> OpenAsync(Action accepted)
        {
            accepted();
            return Task.FromResult<RemoteCommandChannels?>(Server);
        }

        /// <summary>All that arrived on a channel until the connection ended.</summary>
        public async Task<string> ReadAsync(byte channel)
        {
            using var all = new MemoryStream();
            await Client.Channel(channel).CopyToAsync(all).WaitAsync(Quick);
            return Encoding.UTF8.GetString(all.ToArray());
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await _sockets.DisposeAsync();
        }
    }
}
