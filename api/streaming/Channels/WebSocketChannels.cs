using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;
using Berth.Api.Streaming.RemoteCommand;

namespace Berth.Api.Streaming.Channels;

/// <summary>
/// Numbered channels multiplexed on one WebSocket (the Kubernetes channel protocols, <see cref="ChannelCodec"/>),
/// for either side. One read loop takes each message to its channel's buffer; sends are serialised. A
/// channel is a <see cref="Stream"/>: reads give what arrived on it (0 once the peer closed it with the
/// v5 signal, or the connection ended), writes send messages on it.
/// </summary>
public sealed class WebSocketChannels : IAsyncDisposable
{
    /// <summary>The largest message taken (bytes, as received); a longer one closes the connection.</summary>
    public const int MaxMessage = 4 << 20;

    private readonly WebSocket _socket;
    private readonly bool _base64;
    private readonly bool _closeSignal;
    private readonly Dictionary<byte, Pipe> _inbound = [];
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _closed = new();
    private readonly TimeSpan _idleTimeout;
    private long _lastActivity = Environment.TickCount64;
    private Task _readLoop = Task.CompletedTask;
    private int _aborted;

    /// <param name="socket">An open WebSocket whose subprotocol was agreed.</param>
    /// <param name="protocol">The agreed subprotocol (base64 or binary; v5 has the close signal).</param>
    /// <param name="readable">The channels whose incoming data is kept; messages on others are dropped.</param>
    /// <param name="idleTimeout">No message either way for this long closes the connection; infinite: never.</param>
    public WebSocketChannels(WebSocket socket, string protocol, IEnumerable<byte> readable, TimeSpan idleTimeout)
    {
        _socket = socket;
        Protocol = protocol;
        _base64 = StreamProtocols.IsBase64(protocol);
        _closeSignal = protocol == StreamProtocols.V5;
        _idleTimeout = idleTimeout;
        foreach (byte channel in readable)
        {
            _inbound[channel] = new Pipe(new PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19, useSynchronizationContext: false));
        }
    }

    public string Protocol { get; }

    /// <summary>Cancelled when the connection ends.</summary>
    public CancellationToken Closed => _closed.Token;

    /// <summary>
    /// What the owner sends before an idle connection is closed (an exec session's status saying why), given at
    /// most <see cref="IdleNotice.Bound"/>; none by default.
    /// </summary>
    public Func<Task>? IdleNoticeAsync { get; set; }

    /// <summary>Completes when the read loop has ended (the peer closed, or the connection broke); never faults.</summary>
    public Task Completion => _readLoop;

    public void Start()
    {
        _readLoop = Task.Run(ReadLoopAsync, CancellationToken.None);
        if (_idleTimeout != Timeout.InfiniteTimeSpan)
        {
            _ = Task.Run(WatchIdleAsync, CancellationToken.None);
        }
    }

    /// <summary>A stream over <paramref name="channel"/>: reads need the channel to be readable.</summary>
    public Stream Channel(byte channel) => new ChannelStream(this, channel);

    /// <summary>Sends <paramref name="data"/> on <paramref name="channel"/> as one message (an empty one too: upstream's "connection established" signal).</summary>
    public async Task SendAsync(byte channel, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        byte[] message = ChannelCodec.Encode(channel, data.Span, _base64);
        await SendRawAsync(message, _base64 ? WebSocketMessageType.Text : WebSocketMessageType.Binary, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>v5: tells the peer nothing more comes on <paramref name="channel"/>; nothing for older protocols.</summary>
    public Task CloseChannelAsync(byte channel, CancellationToken cancellationToken) =>
        _closeSignal ? SendRawAsync([ChannelNumbers.CloseSignal, channel], WebSocketMessageType.Binary, cancellationToken) : Task.CompletedTask;

    /// <summary>
    /// Ends the connection gracefully: a close frame after everything sent, then waits up to
    /// <paramref name="drain"/> for the peer's close (so the peer reads all of it, as the API server's
    /// stream translator does since a reset could discard it), then aborts.
    /// </summary>
    public async Task CloseAsync(TimeSpan drain)
    {
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(drain);
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception error) when (error is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            _sendLock.Release();
        }
        try
        {
            await _readLoop.WaitAsync(drain).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        Abort();
    }

    public async ValueTask DisposeAsync()
    {
        Abort();
        await _readLoop.ConfigureAwait(false);
    }

    private async Task SendRawAsync(byte[] message, WebSocketMessageType type, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _socket.SendAsync(message, type, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is WebSocketException or ObjectDisposedException or InvalidOperationException)
        {
            throw new IOException($"the WebSocket connection is closed: {error.Message}", error);
        }
        finally
        {
            _sendLock.Release();
        }
        Volatile.Write(ref _lastActivity, Environment.TickCount64);
    }

    private async Task ReadLoopAsync()
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var message = new ArrayBufferWriter<byte>();
        try
        {
            while (true)
            {
                ValueWebSocketReceiveResult result = await _socket.ReceiveAsync(buffer.AsMemory(), _closed.Token).ConfigureAwait(false);
                Volatile.Write(ref _lastActivity, Environment.TickCount64);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                message.Write(buffer.AsSpan(0, result.Count));
                if (message.WrittenCount > MaxMessage)
                {
                    break;
                }
                if (!result.EndOfMessage)
                {
                    continue;
                }
                if (ChannelCodec.TryDecode(message.WrittenSpan, _base64, out byte channel, out byte[] data))
                {
                    if (_closeSignal && channel == ChannelNumbers.CloseSignal && !_base64)
                    {
                        if (data.Length == 1 && _inbound.TryGetValue(data[0], out Pipe? closedPipe))
                        {
                            await closedPipe.Writer.CompleteAsync().ConfigureAwait(false);
                        }
                    }
                    else if (_inbound.TryGetValue(channel, out Pipe? pipe) && data.Length > 0)
                    {
                        try
                        {
                            await pipe.Writer.WriteAsync(data, _closed.Token).ConfigureAwait(false);
                        }
                        catch (InvalidOperationException)
                        {
                            // The channel's reader is done with it, or the peer closed it.
                        }
                    }
                }
                message.Clear();
            }
        }
        catch (Exception error) when (error is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            foreach (Pipe pipe in _inbound.Values)
            {
                await pipe.Writer.CompleteAsync().ConfigureAwait(false);
            }
            _closed.Cancel();
        }
    }

    private async Task WatchIdleAsync()
    {
        if (await IdleNotice.WaitForIdleAsync(() => Volatile.Read(ref _lastActivity), _idleTimeout, _closed.Token).ConfigureAwait(false))
        {
            await IdleNotice.SendAsync(IdleNoticeAsync).ConfigureAwait(false);
            Abort();
        }
    }

    private void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }
        _closed.Cancel();
        _socket.Abort();
    }

    private async ValueTask<int> ReadChannelAsync(byte channel, Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (destination.IsEmpty || !_inbound.TryGetValue(channel, out Pipe? pipe))
        {
            return 0;
        }
        ReadResult result;
        try
        {
            result = await pipe.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            return 0;
        }
        int n = (int)Math.Min(destination.Length, result.Buffer.Length);
        result.Buffer.Slice(0, n).CopyTo(destination.Span);
        pipe.Reader.AdvanceTo(result.Buffer.GetPosition(n));
        return n;
    }

    /// <summary>A channel as a stream: async reads and writes only; disposing it leaves the connection open.</summary>
    private sealed class ChannelStream(WebSocketChannels owner, byte channel) : AsyncDuplexStream
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            owner.ReadChannelAsync(channel, buffer, cancellationToken);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!buffer.IsEmpty)
            {
                await owner.SendAsync(channel, buffer, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
