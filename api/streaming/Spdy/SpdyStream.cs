using System.Buffers;
using System.IO.Pipelines;

namespace Berth.Api.Streaming.Spdy;

/// <summary>
/// One SPDY stream of a <see cref="SpdyConnection"/>, as a <see cref="Stream"/>: reads return what the
/// peer sent in DATA frames and 0 once it sent FIN or reset the stream; writes send DATA frames (within
/// the send window when the peer keeps windows); <see cref="CloseWriteAsync"/> sends FIN (half-close),
/// <see cref="ResetAsync"/> sends RST_STREAM. Only async reads and writes are supported.
/// </summary>
public sealed class SpdyStream : AsyncDuplexStream
{
    /// <summary>The largest DATA frame sent (Go's io.Copy, which kubectl uses, writes 32 KiB at a time).</summary>
    public const int MaxDataFrame = 32 * 1024;

    private readonly SpdyConnection _connection;
    private readonly Pipe _inbound;
    private readonly TaskCompletionSource _replied = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private bool _localClosed;
    private bool _remoteClosed;
    private bool _reset;
    private int _unacknowledged;

    internal SpdyStream(SpdyConnection connection, uint id, IReadOnlyDictionary<string, string> headers, long sendWindow, int inboundLimit)
    {
        _connection = connection;
        Id = id;
        Headers = headers;
        SendWindow = new SpdyWindow(sendWindow);
        _inbound = new Pipe(new PipeOptions(pauseWriterThreshold: inboundLimit, resumeWriterThreshold: inboundLimit / 2,
            useSynchronizationContext: false));
    }

    /// <summary>The stream id: odd when the client opened it, even when the server did.</summary>
    public uint Id { get; }

    /// <summary>The headers of its SYN_STREAM, names lowercase (Kubernetes sends streamtype, port, requestid).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The header's value, or null.</summary>
    public string? Header(string name) => Headers.TryGetValue(name, out string? value) ? value : null;

    internal SpdyWindow SendWindow { get; }

    /// <summary>Completes when the peer answered SYN_REPLY (streams this side opened); faults when it reset the stream.</summary>
    internal Task Replied => _replied.Task;

    /// <summary>Accepts a stream the peer opened: sends SYN_REPLY (no headers), as Kubernetes' servers do.</summary>
    public Task AcceptAsync(CancellationToken cancellationToken = default) => _connection.SendReplyAsync(this, cancellationToken);

    /// <summary>Refuses or abandons the stream: RST_STREAM with <paramref name="status"/> (Kubernetes resets with CANCEL).</summary>
    public async Task ResetAsync(SpdyRstStatus status = SpdyRstStatus.Cancel)
    {
        if (!MarkReset())
        {
            return;
        }
        try
        {
            await _connection.SendResetAsync(Id, status).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The connection is gone, and the stream with it.
        }
    }

    /// <summary>Sends FIN: nothing more will be written. Idempotent; nothing happens after a reset.</summary>
    public async Task CloseWriteAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_localClosed)
            {
                return;
            }
            _localClosed = true;
        }
        try
        {
            await _connection.SendDataAsync(Id, ReadOnlyMemory<byte>.Empty, fin: true, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
        ForgetIfDone();
    }

    /// <summary>Stops taking what the peer sends on this stream (its data is dropped from now on).</summary>
    public void DiscardInbound() => _inbound.Reader.Complete();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        ReadResult result;
        try
        {
            result = await _inbound.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // DiscardInbound completed the reader.
            return 0;
        }
        ReadOnlySequence<byte> data = result.Buffer;
        int n = (int)Math.Min(buffer.Length, data.Length);
        data.Slice(0, n).CopyTo(buffer.Span);
        _inbound.Reader.AdvanceTo(data.GetPosition(n));
        if (n > 0)
        {
            await AcknowledgeAsync(n).ConfigureAwait(false);
            await _connection.AcknowledgeSessionAsync(n).ConfigureAwait(false);
        }
        return n;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            lock (_gate)
            {
                if (_localClosed || _reset)
                {
                    throw new IOException($"SPDY stream {Id} is closed for writing");
                }
            }
            int chunk = Math.Min(buffer.Length, MaxDataFrame);
            chunk = await _connection.TakeSendWindowAsync(this, chunk, cancellationToken).ConfigureAwait(false);
            await _connection.SendDataAsync(Id, buffer[..chunk], fin: false, cancellationToken).ConfigureAwait(false);
            buffer = buffer[chunk..];
        }
    }

    /// <summary>Half-closes (FIN) what was not closed or reset yet.</summary>
    public override async ValueTask DisposeAsync()
    {
        await CloseWriteAsync().ConfigureAwait(false);
        DiscardInbound();
        GC.SuppressFinalize(this);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _ = CloseWriteAsync();
            DiscardInbound();
        }
        base.Dispose(disposing);
    }

    /// <summary>The read loop's delivery of one DATA payload; waits while the reader is far behind (a peer that ignores windows).</summary>
    internal async ValueTask DeliverAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_remoteClosed || _reset)
            {
                return;
            }
        }
        try
        {
            await _inbound.Writer.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Completed meanwhile (reset, or the connection closed).
        }
    }

    /// <summary>The peer sent FIN: reads end once what arrived is taken.</summary>
    internal void RemoteClose()
    {
        lock (_gate)
        {
            if (_remoteClosed)
            {
                return;
            }
            _remoteClosed = true;
        }
        _inbound.Writer.Complete();
        ForgetIfDone();
    }

    /// <summary>The peer answered the SYN_STREAM this side sent.</summary>
    internal void Reply(bool fin)
    {
        _replied.TrySetResult();
        if (fin)
        {
            RemoteClose();
        }
    }

    /// <summary>The peer reset the stream, or the connection ended: reads end, writes and waits fail.</summary>
    internal void Abort(string reason)
    {
        MarkReset();
        _replied.TrySetException(new IOException(reason));
        SendWindow.Fail(new IOException(reason));
    }

    /// <summary>The SYN_STREAM said FIN (nothing will come) or UNIDIRECTIONAL (nothing may be sent).</summary>
    internal void Opened(bool fin, bool unidirectional)
    {
        if (unidirectional)
        {
            lock (_gate)
            {
                _localClosed = true;
            }
        }
        if (fin)
        {
            RemoteClose();
        }
    }

    private bool MarkReset()
    {
        lock (_gate)
        {
            if (_reset)
            {
                return false;
            }
            _reset = true;
            _remoteClosed = true;
            _localClosed = true;
        }
        _inbound.Writer.Complete();
        _connection.Forget(this);
        return true;
    }

    private void ForgetIfDone()
    {
        lock (_gate)
        {
            if (!(_localClosed && _remoteClosed))
            {
                return;
            }
        }
        _connection.Forget(this);
    }

    /// <summary>Counts consumed bytes and tells the peer in WINDOW_UPDATEs of half a window at a time.</summary>
    private async ValueTask AcknowledgeAsync(int consumed)
    {
        int update;
        lock (_gate)
        {
            _unacknowledged += consumed;
            if (_unacknowledged < _connection.ReceiveWindow / 2 || _remoteClosed)
            {
                return;
            }
            update = _unacknowledged;
            _unacknowledged = 0;
        }
        await _connection.SendWindowUpdateAsync(Id, update).ConfigureAwait(false);
    }
}
