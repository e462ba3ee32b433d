using System.Buffers.Binary;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using Berth.Api.Streaming.Channels;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Api.Streaming.Spdy;

namespace Berth.Api.Streaming.Client;

/// <summary>One forwarded connection: its data stream and the text the server writes on its error stream (empty when none).</summary>
public sealed record ForwardedConnection(Stream Data, Task<string> Error) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Data.DisposeAsync();
}

/// <summary>
/// A port-forward session over SPDY (client-go's portforward.PortForwarder): each <see cref="OpenAsync"/>
/// opens an error stream (half-closed at once, as client-go does) and a data stream for one port, paired
/// by a requestID header.
/// </summary>
public sealed class SpdyPortForward : IAsyncDisposable
{
    private readonly SpdyConnection _connection;
    private int _nextRequest;

    private SpdyPortForward(SpdyConnection connection)
    {
        _connection = connection;
    }

    public static async Task<SpdyPortForward> ConnectAsync(Uri url, CancellationToken cancellationToken = default)
    {
        var (connection, _) = await StreamingUpgradeClient.UpgradeSpdyAsync(url, [StreamProtocols.PortForward], cancellationToken);
        return new SpdyPortForward(connection);
    }

    /// <summary>Forwards a new connection to <paramref name="port"/> in the pod.</summary>
    public async Task<ForwardedConnection> OpenAsync(int port, CancellationToken cancellationToken = default)
    {
        string requestId = Interlocked.Increment(ref _nextRequest).ToString(CultureInfo.InvariantCulture);
        string portText = port.ToString(CultureInfo.InvariantCulture);
        SpdyStream error = await _connection.OpenStreamAsync(
            [new(StreamTypes.Header, StreamTypes.Error), new(StreamTypes.PortHeader, portText), new(StreamTypes.RequestIdHeader, requestId)], cancellationToken);
        await error.CloseWriteAsync(cancellationToken);
        SpdyStream data = await _connection.OpenStreamAsync(
            [new(StreamTypes.Header, StreamTypes.Data), new(StreamTypes.PortHeader, portText), new(StreamTypes.RequestIdHeader, requestId)], cancellationToken);
        return new ForwardedConnection(data, ReadTextAsync(error));
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    internal static async Task<string> ReadTextAsync(Stream stream)
    {
        using var text = new MemoryStream();
        try
        {
            await stream.CopyToAsync(text);
        }
        catch (IOException)
        {
        }
        return Encoding.UTF8.GetString(text.ToArray());
    }
}

/// <summary>
/// A port-forward session over WebSocket (kubelet's portforward/websocket.go): channel 2i carries port i's
/// data and 2i + 1 its errors, each first with the port as two little-endian bytes, which this strips.
/// </summary>
public sealed class WebSocketPortForward : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly WebSocketChannels _channels;
    private readonly Stream[] _data;

    private WebSocketPortForward(ClientWebSocket socket, WebSocketChannels channels, int ports)
    {
        _socket = socket;
        _channels = channels;
        _data = new Stream[ports];
    }

    /// <summary>Connects with <paramref name="protocol"/> (v4.channel.k8s.io or v4.base64) for the session's <paramref name="ports"/>.</summary>
    public static async Task<WebSocketPortForward> ConnectAsync(Uri url, int ports, string protocol = StreamProtocols.V4, CancellationToken cancellationToken = default)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(protocol);
        await socket.ConnectAsync(RemoteCommandClient.WebSocketUrl(url), cancellationToken);
        var channels = new WebSocketChannels(socket, socket.SubProtocol ?? "", Enumerable.Range(0, 2 * ports).Select(i => (byte)i), Timeout.InfiniteTimeSpan);
        channels.Start();
        var session = new WebSocketPortForward(socket, channels, ports);
        for (int i = 0; i < ports; i++)
        {
            session._data[i] = channels.Channel((byte)(2 * i));
        }
        return session;
    }

    /// <summary>Port <paramref name="index"/>'s data channel, after reading the port it starts with.</summary>
    public async Task<(int Port, Stream Data, Task<string> Error)> OpenAsync(int index, CancellationToken cancellationToken = default)
    {
        Stream data = _data[index];
        Stream error = _channels.Channel((byte)(2 * index + 1));
        byte[] port = new byte[2];
        await data.ReadExactlyAsync(port, cancellationToken);
        await error.ReadExactlyAsync(new byte[2], cancellationToken);
        return (BinaryPrimitives.ReadUInt16LittleEndian(port), data, SpdyPortForward.ReadTextAsync(error));
    }

    public async ValueTask DisposeAsync()
    {
        await _channels.CloseAsync(TimeSpan.FromSeconds(5));
        _socket.Dispose();
    }
}
