using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Threading.Channels;

namespace Berth.Api.Streaming.Spdy;

/// <summary>How a <see cref="SpdyConnection"/> behaves.</summary>
public sealed record SpdyConnectionOptions
{
    /// <summary>A connection with no frame in either direction for this long is closed (upstream default: 4 h). Infinite: never.</summary>
    public TimeSpan IdleTimeout { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Send SETTINGS (INITIAL_WINDOW_SIZE) as the first frame, announcing that this side keeps flow-control
    /// windows; a peer that answers with SETTINGS is then held to its windows too. Only for the client
    /// side: a server must send nothing before the client speaks (see <see cref="SpdyConnection"/>).
    /// </summary>
    public bool AnnounceSettings { get; init; }

    /// <summary>The most bytes a stream buffers for a slow reader before the connection stops reading (a peer that ignores windows).</summary>
    public int InboundLimit { get; init; } = 1 << 20;
}

/// <summary>
/// A SPDY/3.1 session over a duplex byte stream (an upgraded HTTP/1.1 connection), for either side.
/// One read loop parses frames and hands DATA to its <see cref="SpdyStream"/>; every frame is written
/// under one lock, and header blocks are compressed under it, so the zlib stream stays in wire order.
/// The peer's new streams arrive on <see cref="IncomingStreams"/> to be accepted or reset.
/// <para>
/// Flow control (section 2.6.8): this side tells the peer, in WINDOW_UPDATE frames of half a window,
/// what it has consumed on each stream and on the session, and never refuses data beyond a window.
/// It holds itself to the peer's windows only once the peer has sent SETTINGS, because Kubernetes' own
/// SPDY peers (github.com/moby/spdystream, used by kubelet, kubectl, crictl and containerd) neither send
/// WINDOW_UPDATE nor keep windows: a sender waiting for one would stall at 64 KiB. A server sends nothing
/// unprompted after the 101 response: client-go reads that response through a buffered reader, which
/// could swallow a frame that arrived with it.
/// </para>
/// </summary>
public sealed class SpdyConnection : IAsyncDisposable
{
    /// <summary>The initial window of every stream and of the session until SETTINGS says otherwise (64 KiB).</summary>
    public const int DefaultWindow = 64 * 1024;

    /// <summary>The most bytes a control frame may carry (header blocks are a few hundred bytes).</summary>
    private const int MaxControlFrame = 1 << 20;

    private readonly Stream _transport;
    private readonly bool _isServer;
    private readonly SpdyConnectionOptions _options;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SpdyHeaderCompressor _compressor = new();
    private readonly SpdyHeaderDecompressor _decompressor = new();
    private readonly ConcurrentDictionary<uint, SpdyStream> _streams = new();
    private readonly Channel<SpdyStream> _incoming = Channel.CreateUnbounded<SpdyStream>();
    private readonly CancellationTokenSource _closed = new();
    private readonly SpdyWindow _sessionSendWindow = new(DefaultWindow);
    private readonly object _gate = new();
    private uint _nextStreamId;
    private uint _lastPeerStreamId;
    private long _peerInitialWindow = DefaultWindow;
    private bool _peerKeepsWindows;
    private bool _settingsSent;
    private bool _goAwaySent;
    private bool _goAwayReceived;
    private int _sessionUnacknowledged;
    private long _lastActivity = Environment.TickCount64;
    private Task _readLoop = Task.CompletedTask;
    private int _started;
    private int _aborted;

    public SpdyConnection(Stream transport, bool isServer, SpdyConnectionOptions? options = null)
    {
        _transport = transport;
        _isServer = isServer;
        _options = options ?? new SpdyConnectionOptions();
        _nextStreamId = isServer ? 2u : 1u;
    }

    /// <summary>The streams the peer opens, in order, each waiting for <see cref="SpdyStream.AcceptAsync"/> or a reset.</summary>
    public ChannelReader<SpdyStream> IncomingStreams => _incoming.Reader;

    /// <summary>Cancelled when the connection ends (the peer closed it, it broke, it idled out, or this side closed it).</summary>
    public CancellationToken Closed => _closed.Token;

    /// <summary>Completes when the read loop has ended; never faults.</summary>
    public Task Completion => _readLoop;

    /// <summary>No frame in either direction for this long closes the connection (<see cref="SpdyConnectionOptions.IdleTimeout"/>).</summary>
    public TimeSpan IdleTimeout => _options.IdleTimeout;

    /// <summary>
    /// What the owner sends before an idle connection is closed (an exec session's status saying why), given at
    /// most <see cref="IdleNotice.Bound"/>; none by default.
    /// </summary>
    public Func<Task>? IdleNoticeAsync { get; set; }

    /// <summary>Why the connection ended, when it ended for a reason other than the peer closing it.</summary>
    public string? Failure { get; private set; }

    /// <summary>The window this side grants per stream (and the session): consumed bytes are acknowledged in halves of it.</summary>
    internal int ReceiveWindow => DefaultWindow;

    /// <summary>Starts the read loop (and the idle timer); a client with <see cref="SpdyConnectionOptions.AnnounceSettings"/> sends SETTINGS first.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("the connection is started already");
        }
        if (_options.AnnounceSettings)
        {
            await SendSettingsAsync(cancellationToken).ConfigureAwait(false);
        }
        _readLoop = Task.Run(ReadLoopAsync, CancellationToken.None);
        if (_options.IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            _ = Task.Run(WatchIdleAsync, CancellationToken.None);
        }
    }

    /// <summary>Opens a stream (client side): SYN_STREAM with <paramref name="headers"/>, then waits for the SYN_REPLY.</summary>
    /// <exception cref="IOException">The peer reset the stream or the connection ended.</exception>
    public async Task<SpdyStream> OpenStreamAsync(IEnumerable<KeyValuePair<string, string>> headers, CancellationToken cancellationToken = default)
    {
        var pairs = headers.ToDictionary(pair => pair.Key.ToLowerInvariant(), pair => pair.Value, StringComparer.OrdinalIgnoreCase);
        byte[] block = SpdyHeaderBlock.Encode(pairs);
        SpdyStream stream;
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Ids must rise in the order the frames go out, so they are taken under the write lock.
            lock (_gate)
            {
                if (_goAwayReceived || _goAwaySent || _closed.IsCancellationRequested)
                {
                    throw new IOException("the SPDY connection is closing: no new streams");
                }
                stream = new SpdyStream(this, _nextStreamId, pairs, _peerInitialWindow, _options.InboundLimit);
                _nextStreamId += 2;
            }
            _streams[stream.Id] = stream;
            byte[] frame = SpdyControlFrames.SynStream(stream.Id, priority: 0, flags: 0, _compressor.Compress(block));
            await WriteLockedAsync(frame, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
        await stream.Replied.WaitAsync(cancellationToken).ConfigureAwait(false);
        return stream;
    }

    /// <summary>Sends GOAWAY (OK): no new streams; the streams open go on until the peer closes the connection.</summary>
    public async Task GoAwayAsync()
    {
        uint last;
        lock (_gate)
        {
            if (_goAwaySent)
            {
                return;
            }
            _goAwaySent = true;
            last = _lastPeerStreamId;
        }
        try
        {
            await WriteFrameAsync(SpdyControlFrames.GoAway(last, SpdyGoAwayStatus.Ok), CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// Ends the connection gracefully: GOAWAY, then waits up to <paramref name="drain"/> for the peer to
    /// close its side (so what was sent is read rather than lost to a reset), then closes it.
    /// </summary>
    public async Task ShutdownAsync(TimeSpan drain)
    {
        await GoAwayAsync().ConfigureAwait(false);
        try
        {
            await _readLoop.WaitAsync(drain).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        Abort(null);
    }

    public async ValueTask DisposeAsync()
    {
        Abort(null);
        await _readLoop.ConfigureAwait(false);
    }

    internal async Task SendReplyAsync(SpdyStream stream, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            byte[] frame = SpdyControlFrames.StreamHeaders(SpdyFrameType.SynReply, stream.Id, 0, _compressor.Compress(SpdyHeaderBlock.Encode([])));
            await WriteLockedAsync(frame, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    internal Task SendResetAsync(uint streamId, SpdyRstStatus status) =>
        WriteFrameAsync(SpdyControlFrames.RstStream(streamId, status), CancellationToken.None);

    internal async Task SendWindowUpdateAsync(uint streamId, int delta)
    {
        try
        {
            await WriteFrameAsync(SpdyControlFrames.WindowUpdate(streamId, delta), CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Counts bytes any stream consumed and acknowledges the session window in halves (SPDY/3.1).</summary>
    internal Task AcknowledgeSessionAsync(int consumed)
    {
        int update;
        lock (_gate)
        {
            _sessionUnacknowledged += consumed;
            if (_sessionUnacknowledged < ReceiveWindow / 2)
            {
                return Task.CompletedTask;
            }
            update = _sessionUnacknowledged;
            _sessionUnacknowledged = 0;
        }
        return SendWindowUpdateAsync(0, update);
    }

    /// <summary>How much of <paramref name="wanted"/> may be sent now on <paramref name="stream"/>: all of it unless the peer keeps windows.</summary>
    internal async ValueTask<int> TakeSendWindowAsync(SpdyStream stream, int wanted, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_peerKeepsWindows)
            {
                return wanted;
            }
        }
        int fromStream = await stream.SendWindow.TakeAsync(wanted, cancellationToken).ConfigureAwait(false);
        int fromSession = await _sessionSendWindow.TakeAsync(fromStream, cancellationToken).ConfigureAwait(false);
        if (fromSession < fromStream)
        {
            stream.SendWindow.Return(fromStream - fromSession);
        }
        return fromSession;
    }

    /// <summary>One DATA frame (header and payload written together).</summary>
    internal async Task SendDataAsync(uint streamId, ReadOnlyMemory<byte> data, bool fin, CancellationToken cancellationToken)
    {
        byte[] frame = ArrayPool<byte>.Shared.Rent(SpdyFrameHeader.Size + data.Length);
        try
        {
            SpdyFrameHeader.WriteData(frame, streamId, fin ? SpdyFlags.Fin : (byte)0, data.Length);
            data.Span.CopyTo(frame.AsSpan(SpdyFrameHeader.Size));
            await WriteFrameAsync(frame.AsMemory(0, SpdyFrameHeader.Size + data.Length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    internal void Forget(SpdyStream stream) => _streams.TryRemove(new KeyValuePair<uint, SpdyStream>(stream.Id, stream));

    private async Task SendSettingsAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_settingsSent)
            {
                return;
            }
            _settingsSent = true;
        }
        await WriteFrameAsync(SpdyControlFrames.Settings((SpdySettings.InitialWindowSize, (uint)ReceiveWindow)), cancellationToken).ConfigureAwait(false);
    }

    private async Task WriteFrameAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await WriteLockedAsync(frame, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task WriteLockedAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        if (_closed.IsCancellationRequested)
        {
            throw new IOException("the SPDY connection is closed");
        }
        try
        {
            await _transport.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            await _transport.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not OperationCanceledException and not IOException)
        {
            throw new IOException($"writing to the SPDY connection: {error.Message}", error);
        }
        Volatile.Write(ref _lastActivity, Environment.TickCount64);
    }

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_transport, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
        byte[] headerBytes = new byte[SpdyFrameHeader.Size];
        string? failure = null;
        try
        {
            while (!_closed.IsCancellationRequested)
            {
                ReadResult result = await reader.ReadAtLeastAsync(SpdyFrameHeader.Size, _closed.Token).ConfigureAwait(false);
                if (result.Buffer.Length < SpdyFrameHeader.Size)
                {
                    if (result.Buffer.Length > 0)
                    {
                        failure = "the peer closed the connection inside a frame header";
                    }
                    break;
                }
                result.Buffer.Slice(0, SpdyFrameHeader.Size).CopyTo(headerBytes);
                SpdyFrameHeader header = SpdyFrameHeader.Read(headerBytes);
                reader.AdvanceTo(result.Buffer.GetPosition(SpdyFrameHeader.Size));
                Volatile.Write(ref _lastActivity, Environment.TickCount64);
                if (header.IsControl)
                {
                    if (header.Length > MaxControlFrame)
                    {
                        throw new SpdyProtocolException($"{header.Type} frame of {header.Length} bytes is larger than {MaxControlFrame}");
                    }
                    result = await reader.ReadAtLeastAsync(header.Length, _closed.Token).ConfigureAwait(false);
                    if (result.Buffer.Length < header.Length)
                    {
                        failure = "the peer closed the connection inside a frame";
                        break;
                    }
                    byte[] payload = result.Buffer.Slice(0, header.Length).ToArray();
                    reader.AdvanceTo(result.Buffer.GetPosition(header.Length));
                    await HandleControlAsync(header, payload).ConfigureAwait(false);
                }
                else if (!await ForwardDataAsync(reader, header).ConfigureAwait(false))
                {
                    failure = "the peer closed the connection inside a frame";
                    break;
                }
            }
        }
        catch (SpdyProtocolException error)
        {
            failure = error.Message;
            try
            {
                await WriteFrameAsync(SpdyControlFrames.GoAway(_lastPeerStreamId, SpdyGoAwayStatus.ProtocolError), CancellationToken.None).ConfigureAwait(false);
            }
            catch (IOException)
            {
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception error) when (error is IOException or ObjectDisposedException or InvalidOperationException)
        {
            failure = error.Message;
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            Abort(failure);
        }
    }

    /// <summary>Moves a DATA frame's payload to its stream as it arrives; false when the connection ended inside it.</summary>
    private async Task<bool> ForwardDataAsync(PipeReader reader, SpdyFrameHeader header)
    {
        _streams.TryGetValue(header.StreamId, out SpdyStream? stream);
        int remaining = header.Length;
        while (remaining > 0)
        {
            ReadResult result = await reader.ReadAsync(_closed.Token).ConfigureAwait(false);
            if (result.Buffer.IsEmpty && result.IsCompleted)
            {
                return false;
            }
            ReadOnlySequence<byte> available = result.Buffer.Slice(0, Math.Min(remaining, result.Buffer.Length));
            if (stream is not null)
            {
                foreach (ReadOnlyMemory<byte> segment in available)
                {
                    await stream.DeliverAsync(segment, _closed.Token).ConfigureAwait(false);
                }
            }
            remaining -= (int)available.Length;
            reader.AdvanceTo(available.End);
        }
        if (header.Length > 0 && stream is null)
        {
            // Data for a stream that is gone still counts against the session window: give it back.
            await AcknowledgeSessionAsync(header.Length).ConfigureAwait(false);
        }
        if (header.HasFin)
        {
            stream?.RemoteClose();
        }
        return true;
    }

    private async Task HandleControlAsync(SpdyFrameHeader header, byte[] payload)
    {
        if (header.Version != SpdyFrameHeader.Version3)
        {
            throw new SpdyProtocolException($"SPDY version {header.Version} is not supported (only 3)");
        }
        switch (header.Type)
        {
            case SpdyFrameType.SynStream:
                await OnSynStreamAsync(header, payload).ConfigureAwait(false);
                break;
            case SpdyFrameType.SynReply:
            case SpdyFrameType.Headers:
            {
                var (streamId, offset) = SpdyControlFrames.ReadStreamId(payload, header.Type);
                // Inflated whatever happens next: the zlib stream must see every block.
                _decompressor.Decompress(payload.AsSpan(offset));
                if (_streams.TryGetValue(streamId, out SpdyStream? stream))
                {
                    if (header.Type == SpdyFrameType.SynReply)
                    {
                        stream.Reply(header.HasFin);
                    }
                    else if (header.HasFin)
                    {
                        stream.RemoteClose();
                    }
                }
                break;
            }
            case SpdyFrameType.RstStream:
            {
                var (streamId, status) = SpdyControlFrames.ReadTwoWords(payload, header.Type);
                if (_streams.TryGetValue(streamId, out SpdyStream? stream))
                {
                    stream.Abort($"the peer reset SPDY stream {streamId} ({(SpdyRstStatus)status})");
                }
                break;
            }
            case SpdyFrameType.Settings:
                await OnSettingsAsync(SpdyControlFrames.ReadSettings(payload)).ConfigureAwait(false);
                break;
            case SpdyFrameType.Ping:
            {
                if (payload.Length != 4)
                {
                    throw new SpdyProtocolException($"PING frame of {payload.Length} bytes, not 4");
                }
                uint id = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(payload);
                // Clients ping with odd ids, servers with even ones: echo the peer's, ignore replies to ours.
                if ((id & 1) == (_isServer ? 1u : 0u))
                {
                    await WriteFrameAsync(SpdyControlFrames.Ping(id), CancellationToken.None).ConfigureAwait(false);
                }
                break;
            }
            case SpdyFrameType.GoAway:
                SpdyControlFrames.ReadTwoWords(payload, header.Type);
                lock (_gate)
                {
                    _goAwayReceived = true;
                }
                break;
            case SpdyFrameType.WindowUpdate:
            {
                var (streamId, delta) = SpdyControlFrames.ReadTwoWords(payload, header.Type);
                delta &= 0x7fffffff;
                if (streamId == 0)
                {
                    _sessionSendWindow.Grow(delta);
                }
                else if (_streams.TryGetValue(streamId, out SpdyStream? stream))
                {
                    stream.SendWindow.Grow(delta);
                }
                break;
            }
            default:
                // Unknown control frames are ignored (section 2.2.1).
                break;
        }
    }

    private async Task OnSynStreamAsync(SpdyFrameHeader header, byte[] payload)
    {
        var (streamId, offset) = SpdyControlFrames.ReadStreamId(payload, header.Type);
        var headers = SpdyHeaderBlock.Decode(_decompressor.Decompress(payload.AsSpan(offset)));
        bool fromClient = (streamId & 1) == 1;
        SpdyStream? stream = null;
        SpdyRstStatus? refusal = null;
        lock (_gate)
        {
            if (streamId == 0 || fromClient != _isServer || streamId <= _lastPeerStreamId)
            {
                refusal = SpdyRstStatus.ProtocolError;
            }
            else
            {
                _lastPeerStreamId = streamId;
                if (_goAwaySent || _closed.IsCancellationRequested)
                {
                    refusal = SpdyRstStatus.RefusedStream;
                }
                else
                {
                    stream = new SpdyStream(this, streamId, headers, _peerInitialWindow, _options.InboundLimit);
                }
            }
        }
        if (stream is null)
        {
            await SendResetAsync(streamId, refusal!.Value).ConfigureAwait(false);
            return;
        }
        _streams[streamId] = stream;
        stream.Opened(header.HasFin, (header.Flags & SpdyFlags.Unidirectional) != 0);
        await _incoming.Writer.WriteAsync(stream).ConfigureAwait(false);
    }

    private async Task OnSettingsAsync(IReadOnlyList<(uint Id, uint Value)> settings)
    {
        foreach (var (id, value) in settings)
        {
            if (id != SpdySettings.InitialWindowSize)
            {
                continue;
            }
            if (value > SpdyWindow.MaxSize)
            {
                throw new SpdyProtocolException($"initial window size {value} is larger than 2^31 - 1");
            }
            long change;
            lock (_gate)
            {
                change = value - _peerInitialWindow;
                _peerInitialWindow = value;
            }
            foreach (SpdyStream stream in _streams.Values)
            {
                stream.SendWindow.Grow(change);
            }
        }
        lock (_gate)
        {
            _peerKeepsWindows = true;
        }
        // A peer that announces its windows is told ours, so that it holds itself to them too.
        await SendSettingsAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private async Task WatchIdleAsync()
    {
        if (await IdleNotice.WaitForIdleAsync(() => Volatile.Read(ref _lastActivity), _options.IdleTimeout, _closed.Token).ConfigureAwait(false))
        {
            await IdleNotice.SendAsync(IdleNoticeAsync).ConfigureAwait(false);
            Abort($"no frame for {_options.IdleTimeout}: the idle connection is closed");
        }
    }

    /// <summary>Ends everything at once: the transport is closed, every stream's reads end and its writes fail.</summary>
    private void Abort(string? failure)
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }
        Failure = failure;
        _closed.Cancel();
        _incoming.Writer.TryComplete();
        string reason = failure ?? "the SPDY connection is closed";
        foreach (SpdyStream stream in _streams.Values)
        {
            stream.Abort(reason);
        }
        _sessionSendWindow.Fail(new IOException(reason));
        try
        {
            _transport.Dispose();
        }
        catch (Exception error) when (error is IOException or ObjectDisposedException)
        {
        }
    }
}
