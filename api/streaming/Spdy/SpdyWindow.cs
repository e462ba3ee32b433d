namespace Berth.Api.Streaming.Spdy;

/// <summary>
/// A SPDY/3.1 send window (section 2.6.8): the bytes of DATA one may still send on a stream, or on
/// the whole session, before the peer's WINDOW_UPDATE. It starts at the peer's initial window, shrinks
/// as data is sent, grows with WINDOW_UPDATE, and may go below zero when SETTINGS lowers the initial
/// size; a sender waits while it is not positive.
/// </summary>
public sealed class SpdyWindow
{
    /// <summary>The largest a window may grow to (2^31 - 1, section 2.6.8).</summary>
    public const long MaxSize = int.MaxValue;

    private readonly object _gate = new();
    private long _size;
    private TaskCompletionSource? _opened;
    private Exception? _failure;

    public SpdyWindow(long initialSize)
    {
        _size = initialSize;
    }

    /// <summary>The bytes that may be sent now (negative after a shrinking SETTINGS).</summary>
    public long Size
    {
        get
        {
            lock (_gate)
            {
                return _size;
            }
        }
    }

    /// <summary>
    /// Adds <paramref name="delta"/> (WINDOW_UPDATE, or the change of a SETTINGS initial size) and wakes a
    /// waiting sender; <see cref="SpdyProtocolException"/> when the window would pass <see cref="MaxSize"/>.
    /// </summary>
    public void Grow(long delta)
    {
        TaskCompletionSource? opened = null;
        lock (_gate)
        {
            if (_size + delta > MaxSize)
            {
                throw new SpdyProtocolException($"window update of {delta} overflows a window of {_size}");
            }
            _size += delta;
            if (_size > 0)
            {
                opened = _opened;
                _opened = null;
            }
        }
        opened?.TrySetResult();
    }

    /// <summary>Waits until the window is positive, then takes up to <paramref name="wanted"/> bytes of it.</summary>
    /// <exception cref="IOException">The stream or connection ended while waiting (the reason given to <see cref="Fail"/>).</exception>
    public async ValueTask<int> TakeAsync(int wanted, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (_failure is not null)
                {
                    throw new IOException(_failure.Message, _failure);
                }
                if (_size > 0)
                {
                    int taken = (int)Math.Min(wanted, _size);
                    _size -= taken;
                    return taken;
                }
                _opened ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _opened.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Gives back bytes taken but not sent (the session window allowed fewer).</summary>
    public void Return(int bytes) => Grow(bytes);

    /// <summary>Ends every wait, now and later, with <paramref name="reason"/> (the stream was reset or the connection closed).</summary>
    public void Fail(Exception reason)
    {
        TaskCompletionSource? opened;
        lock (_gate)
        {
            _failure ??= reason;
            opened = _opened;
            _opened = null;
        }
        opened?.TrySetResult();
    }
}
