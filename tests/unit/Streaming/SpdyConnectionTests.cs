using System.Net;
using System.Net.Sockets;
using Berth.Api.Streaming.Spdy;

namespace Berth.Tests.Unit.Streaming;

/// <summary>Two <see cref="SpdyConnection"/>s over a loopback TCP connection: streams, flow control, resets, pings.</summary>
public sealed class SpdyConnectionTests
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AStreamCarriesDataBothWaysAndEndsAtFin()
    {
        await using var pair = await ConnectedPair.OpenAsync(announce: true);
        var (client, server) = await pair.StreamAsync(new() { ["streamtype"] = "stdout" });

        Assert.Equal("stdout", server.Header("streamtype"));
        await server.WriteAsync("hello"u8.ToArray());
        await server.CloseWriteAsync();
        Assert.Equal("hello", await ReadAllTextAsync(client));

        await client.WriteAsync("back"u8.ToArray());
        await client.CloseWriteAsync();
        Assert.Equal("back", await ReadAllTextAsync(server));
    }

    [Fact]
    public async Task APeerThatKeepsWindowsHoldsTheSenderToThemUntilItReads()
    {
        await using var pair = await ConnectedPair.OpenAsync(announce: true);
        var (client, server) = await pair.StreamAsync([]);
        byte[] big = new byte[4 * SpdyConnection.DefaultWindow];

        Task write = server.WriteAsync(big).AsTask();
        await Task.Delay(500);
        Assert.False(write.IsCompleted, "the sender went past the peer's 64 KiB window without a WINDOW_UPDATE");

        byte[] received = new byte[big.Length];
        await client.ReadExactlyAsync(received).AsTask().WaitAsync(Quick);
        await write.WaitAsync(Quick);
    }

    [Fact]
    public async Task APeerThatNeverSpokeOfWindowsIsNotWaitedFor()
    {
        // Kubernetes' Go peers (spdystream) send no SETTINGS and no WINDOW_UPDATE: waiting would stall at 64 KiB.
        await using var pair = await ConnectedPair.OpenAsync(announce: false);
        var (client, server) = await pair.StreamAsync([]);

        await server.WriteAsync(new byte[4 * SpdyConnection.DefaultWindow]).AsTask().WaitAsync(Quick);
        Assert.NotNull(client);
    }

    [Fact]
    public async Task SettingsThatShrinkTheWindowMakeTheSenderWaitLonger()
    {
        var window = new SpdyWindow(SpdyConnection.DefaultWindow);
        Assert.Equal(1000, await window.TakeAsync(1000, default));
        window.Grow(-SpdyConnection.DefaultWindow);
        Task<int> wait = window.TakeAsync(10, default).AsTask();
        Assert.False(wait.IsCompleted);
        window.Grow(1000);
        Assert.False(wait.IsCompleted);
        window.Grow(100);
        Assert.Equal(10, await wait.WaitAsync(Quick));
        Assert.Throws<SpdyProtocolException>(() => window.Grow(SpdyWindow.MaxSize));
    }

    [Fact]
    public async Task AResetEndsReadsAndFailsWrites()
    {
        await using var pair = await ConnectedPair.OpenAsync(announce: true);
        var (client, server) = await pair.StreamAsync([]);

        await client.ResetAsync();

        Assert.Equal(0, await server.ReadAsync(new byte[10]).AsTask().WaitAsync(Quick));
        await Assert.ThrowsAsync<IOException>(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await server.WriteAsync(new byte[1024]);
                await Task.Delay(10);
            }
        });
    }

    [Fact]
    public async Task ARefusedStreamFailsItsOpener()
    {
        await using var pair = await ConnectedPair.OpenAsync(announce: true);
        Task<SpdyStream> opening = pair.Client.OpenStreamAsync([new("port", "x")]);
        SpdyStream incoming = await pair.Server.IncomingStreams.ReadAsync().AsTask().WaitAsync(Quick);

        await incoming.ResetAsync(SpdyRstStatus.RefusedStream);

        await Assert.ThrowsAsync<IOException>(() => opening.WaitAsync(Quick));
    }

    [Fact]
    public async Task TheEndOfTheConnectionEndsEveryStream()
    {
        await using var pair = await ConnectedPair.OpenAsync(announce: true);
        var (client, _) = await pair.StreamAsync([]);

        await pair.Server.ShutdownAsync(TimeSpan.FromMilliseconds(100));

        Assert.Equal(0, await client.ReadAsync(new byte[1]).AsTask().WaitAsync(Quick));
        await pair.Client.Completion.WaitAsync(Quick);
        Assert.True(pair.Client.Closed.IsCancellationRequested);
    }

    [Fact]
    public async Task AnIdleConnectionIsClosed()
    {
        await using var pair = await ConnectedPair.OpenAsync(announce: false, idle: TimeSpan.FromMilliseconds(300));
        await pair.Server.Completion.WaitAsync(Quick);
        Assert.Contains("idle", pair.Server.Failure);
    }

    [Fact]
    public async Task AnIdleConnectionIsClosedOneTimeoutAfterItsLastFrameWithTheOwnersNotice()
    {
        var idle = TimeSpan.FromMilliseconds(800);
        await using var pair = await ConnectedPair.OpenAsync(announce: false, idle: idle);
        var (client, server) = await pair.StreamAsync([]);
        pair.Server.IdleNoticeAsync = async () =>
        {
            await server.WriteAsync("closed for idleness"u8.ToArray());
            await server.CloseWriteAsync();
        };
        await Task.Delay(idle / 2);
        long lastFrame = System.Diagnostics.Stopwatch.GetTimestamp();
        await client.WriteAsync("still here"u8.ToArray());
        using var notice = new MemoryStream();
        await client.CopyToAsync(notice).WaitAsync(Quick);
        await pair.Server.Completion.WaitAsync(Quick);
        TimeSpan closedAfter = System.Diagnostics.Stopwatch.GetElapsedTime(lastFrame);

        Assert.Equal("closed for idleness", System.Text.Encoding.ASCII.GetString(notice.ToArray()));
        Assert.Contains("idle", pair.Server.Failure);
        // The timer restarts at the last frame, and the close follows its end (not a second period later).
        Assert.InRange(closedAfter, idle, idle + Berth.Api.Streaming.IdleNotice.Bound);
    }

    [Fact]
    public async Task APingIsEchoed()
    {
        await using var sockets = await SocketPair.OpenAsync();
        await using var server = new SpdyConnection(sockets.Server, isServer: true);
        await server.StartAsync();

        await sockets.Client.WriteAsync(SpdyControlFrames.Ping(1));
        byte[] echo = new byte[12];
        await sockets.Client.ReadExactlyAsync(echo).AsTask().WaitAsync(Quick);

        Assert.Equal(SpdyControlFrames.Ping(1), echo);
    }

    [Fact]
    public async Task GarbageEndsTheConnectionWithGoAwayProtocolError()
    {
        await using var sockets = await SocketPair.OpenAsync();
        await using var server = new SpdyConnection(sockets.Server, isServer: true);
        await server.StartAsync();

        // A control frame of version 2.
        await sockets.Client.WriteAsync(Convert.FromHexString("800200060000000400000001"));
        byte[] goAway = new byte[16];
        await sockets.Client.ReadExactlyAsync(goAway).AsTask().WaitAsync(Quick);

        Assert.Equal(SpdyControlFrames.GoAway(0, SpdyGoAwayStatus.ProtocolError), goAway);
        await server.Completion.WaitAsync(Quick);
        Assert.Contains("version 2", server.Failure);
    }

    private static async Task<string> ReadAllTextAsync(Stream stream)
    {
        using var all = new MemoryStream();
        await stream.CopyToAsync(all).WaitAsync(Quick);
        return System.Text.Encoding.UTF8.GetString(all.ToArray());
    }

    /// <summary>A connected loopback TCP pair as streams.</summary>
    internal sealed class SocketPair : IAsyncDisposable
    {
        public required NetworkStream Client { get; init; }
        public required NetworkStream Server { get; init; }

        public static async Task<SocketPair> OpenAsync()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var client = new Socket(SocketType.Stream, ProtocolType.Tcp);
            Task connect = client.ConnectAsync(listener.LocalEndpoint);
            Socket server = await listener.AcceptSocketAsync();
            await connect;
            return new SocketPair { Client = new NetworkStream(client, ownsSocket: true), Server = new NetworkStream(server, ownsSocket: true) };
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
        }
    }

    /// <summary>A client and a server <see cref="SpdyConnection"/> connected to each other.</summary>
    private sealed class ConnectedPair : IAsyncDisposable
    {
        public required SpdyConnection Client { get; init; }
        public required SpdyConnection Server { get; init; }

        public static async Task<ConnectedPair> OpenAsync(bool announce, TimeSpan? idle = null)
        {
            var sockets = await SocketPair.OpenAsync();
            var pair = new ConnectedPair
            {
                Client = new SpdyConnection(sockets.Client, isServer: false, new SpdyConnectionOptions { AnnounceSettings = announce }),
                Server = new SpdyConnection(sockets.Server, isServer: true, new SpdyConnectionOptions { IdleTimeout = idle ?? Timeout.InfiniteTimeSpan }),
            };
            await pair.Server.StartAsync();
            await pair.Client.StartAsync();
            return pair;
        }

        /// <summary>A stream the client opens and the server accepts.</summary>
        public async Task<(SpdyStream Client, SpdyStream Server)> StreamAsync(Dictionary<string, string> headers)
        {
            Task<SpdyStream> opening = Client.OpenStreamAsync(headers);
            SpdyStream incoming = await Server.IncomingStreams.ReadAsync().AsTask().WaitAsync(Quick);
            await incoming.AcceptAsync();
            return (await opening.WaitAsync(Quick), incoming);
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
        }
    }
}
