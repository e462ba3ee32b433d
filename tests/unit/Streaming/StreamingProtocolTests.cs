using System.Net.WebSockets;
using System.Text;
using Berth.Api.Streaming.Channels;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Core.Errors;
using Berth.RuntimeService.Streaming;
using Cri = Berth.Api.Cri;

namespace Berth.Tests.Unit.Streaming;

/// <summary>The WebSocket channel framing, the status JSON, terminal sizes, protocol negotiation and the token cache.</summary>
public sealed class StreamingProtocolTests
{
    [Fact]
    public void ChannelMessagesAreAChannelByteOrADigitAndBase64()
    {
        Assert.Equal(new byte[] { 0, 102, 111, 111, 10 }, ChannelCodec.Encode(0, "foo\n"u8, base64: false));
        // The example in apimachinery's wsstream: "\n" on stdout is "1Cg==".
        Assert.Equal("1Cg==", Encoding.ASCII.GetString(ChannelCodec.Encode(1, "\n"u8, base64: true)));

        Assert.True(ChannelCodec.TryDecode("0Zm9vCg=="u8, base64: true, out byte channel, out byte[] data));
        Assert.Equal((0, "foo\n"), (channel, Encoding.ASCII.GetString(data)));
        Assert.True(ChannelCodec.TryDecode(new byte[] { 255, 0 }, base64: false, out channel, out data));
        Assert.Equal(ChannelNumbers.CloseSignal, channel);
        Assert.Equal([0], data);
        Assert.False(ChannelCodec.TryDecode(""u8, base64: false, out _, out _));
        Assert.False(ChannelCodec.TryDecode("0!!"u8, base64: true, out _, out _));
    }

    [Theory]
    [InlineData(StreamProtocols.V5, true)]
    [InlineData(StreamProtocols.V4, false)]
    public async Task ChannelsRouteMessagesAndV5sCloseSignalEndsOne(string protocol, bool closes)
    {
        await using var sockets = await SpdyConnectionTests.SocketPair.OpenAsync();
        using var clientSocket = WebSocket.CreateFromStream(sockets.Client, isServer: false, protocol, TimeSpan.Zero);
        using var serverSocket = WebSocket.CreateFromStream(sockets.Server, isServer: true, protocol, TimeSpan.Zero);
        await using var client = new WebSocketChannels(clientSocket, protocol, [ChannelNumbers.Stdout], Timeout.InfiniteTimeSpan);
        await using var server = new WebSocketChannels(serverSocket, protocol, [ChannelNumbers.Stdin], Timeout.InfiniteTimeSpan);
        client.Start();
        server.Start();

        await client.Channel(ChannelNumbers.Stdin).WriteAsync("in"u8.ToArray());
        await server.Channel(ChannelNumbers.Stdout).WriteAsync("out"u8.ToArray());
        await server.SendAsync(ChannelNumbers.Stderr, "dropped: not readable"u8.ToArray(), default);
        await client.CloseChannelAsync(ChannelNumbers.Stdin, default);

        byte[] buffer = new byte[16];
        int n = await server.Channel(ChannelNumbers.Stdin).ReadAsync(buffer);
        Assert.Equal("in", Encoding.ASCII.GetString(buffer, 0, n));
        n = await client.Channel(ChannelNumbers.Stdout).ReadAsync(buffer);
        Assert.Equal("out", Encoding.ASCII.GetString(buffer, 0, n));
        Task<int> next = server.Channel(ChannelNumbers.Stdin).ReadAsync(buffer).AsTask();
        if (closes)
        {
            Assert.Equal(0, await next.WaitAsync(TimeSpan.FromSeconds(10)));
        }
        else
        {
            await Task.Delay(300);
            Assert.False(next.IsCompleted, "before v5 a channel has no end of its own");
        }
    }

    [Fact]
    public void TheStatusJsonIsKubeletsAndDecodesBack()
    {
        Assert.Equal("""{"metadata":{},"status":"Success"}""", Encoding.UTF8.GetString(ExecStatus.Succeeded.ToJson()));
        var exited = ExecStatus.Exited(3, ["sh", "-c", "exit 3"]);
        Assert.Equal("""{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}""",
            Encoding.UTF8.GetString(exited.ToJson()));
        var failed = ExecStatus.Internal("boom");
        Assert.Equal("""{"metadata":{},"status":"Failure","message":"Internal error occurred: boom","reason":"InternalError","details":{"causes":[{"message":"boom"}]},"code":500}""",
            Encoding.UTF8.GetString(failed.ToJson()));

        Assert.Equal("""{"metadata":{},"status":"Failure","message":"too many","reason":"TooManyRequests","code":429}""",
            Encoding.UTF8.GetString(ExecStatus.TooManyRequests("too many").ToJson()));
        Assert.Equal("""{"metadata":{},"status":"Failure","message":"the session was closed after 4h0m0s without traffic (the idle timeout of the streaming server)","reason":"Timeout","code":504}""",
            Encoding.UTF8.GetString(ExecStatus.IdleClosed(TimeSpan.FromHours(4)).ToJson()));
        Assert.Contains("after 1m30s without", ExecStatus.IdleClosed(TimeSpan.FromSeconds(90)).Message);

        Assert.Null(ExecStatus.Decode(ExecStatus.Succeeded.Encode(StreamProtocols.V4), StreamProtocols.V4));
        Assert.Equal(3, ExecStatus.Decode(exited.Encode(StreamProtocols.V4), StreamProtocols.V4)!.ExitCode);
        // Before v4 the error stream carries the message alone, and nothing on success.
        Assert.Empty(ExecStatus.Succeeded.Encode(StreamProtocols.V3));
        Assert.Equal(exited.Message, ExecStatus.Decode(exited.Encode(StreamProtocols.V2), StreamProtocols.V2)!.Message);
    }

    [Fact]
    public async Task TerminalSizesAreReadFromObjectsSplitAnywhere()
    {
        byte[] json = Encoding.ASCII.GetBytes("{\"Width\":80,\"Height\":24}\n{\"height\":50,\"width\":132}\n[1]\n{\"Width\":1");
        var sizes = new List<TerminalSize>();
        await foreach (var size in TerminalSize.ReadAllAsync(new TrickleStream(json)))
        {
            sizes.Add(size);
        }
        Assert.Equal([new TerminalSize(80, 24), new TerminalSize(132, 50)], sizes);
        Assert.Equal("{\"Width\":7,\"Height\":3}\n", Encoding.ASCII.GetString(new TerminalSize(7, 3).ToJson()));
    }

    [Fact]
    public void NegotiationTakesTheClientsFirstProtocolTheServerAccepts()
    {
        Assert.Equal(StreamProtocols.V4, StreamProtocols.Negotiate(["v9", StreamProtocols.V4, StreamProtocols.V3], StreamProtocols.RemoteCommandSpdy));
        Assert.Equal(StreamProtocols.V2, StreamProtocols.Negotiate([StreamProtocols.V2, StreamProtocols.V4], StreamProtocols.RemoteCommandSpdy));
        Assert.Null(StreamProtocols.Negotiate(["v9"], StreamProtocols.RemoteCommandSpdy));
        Assert.Equal(["a", "b", "c"], StreamProtocols.SplitHeaderValues(["a, b", " c ", ""]));
    }

    [Fact]
    public void ATokenServesOnceAndExpiresAfterAMinute()
    {
        var clock = new ManualClock();
        var tokens = new StreamingTokens(clock);
        var request = new Cri.ExecRequest { ContainerId = "c" };

        string token = tokens.Add(request);
        Assert.Same(request, tokens.Take(token));
        Assert.Null(tokens.Take(token));
        Assert.Null(tokens.Take("unknown"));

        string late = tokens.Add(request);
        clock.Now += StreamingTokens.Lifetime + TimeSpan.FromSeconds(1);
        Assert.Null(tokens.Take(late));

        string inTime = tokens.Add(request);
        clock.Now += StreamingTokens.Lifetime - TimeSpan.FromSeconds(1);
        Assert.Same(request, tokens.Take(inTime));
        Assert.NotEqual(token, inTime);
    }

    [Fact]
    public void TokensInFlightAreBoundedUntilTheyExpire()
    {
        var clock = new ManualClock();
        var tokens = new StreamingTokens(clock);
        for (int i = 0; i < StreamingTokens.Capacity; i++)
        {
            tokens.Add(new Cri.PortForwardRequest());
        }

        var full = Assert.Throws<BerthException>(() => tokens.Add(new Cri.PortForwardRequest()));
        Assert.Equal(ErrorKind.ResourceExhausted, full.Kind);

        clock.Now += StreamingTokens.Lifetime + TimeSpan.FromSeconds(1);
        Assert.Equal(0, tokens.InFlight);
        tokens.Add(new Cri.PortForwardRequest());
    }

    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    /// <summary>Gives its bytes three at a time, so objects arrive split.</summary>
    private sealed class TrickleStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(3, buffer.Length)], cancellationToken);
    }
}
