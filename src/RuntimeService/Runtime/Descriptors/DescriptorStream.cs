namespace Berth.RuntimeService.Runtime.Descriptors;

/// <summary>
/// A non-blocking descriptor that is not a socket (a pseudo-terminal master, a pipe's end) as an async
/// <see cref="Stream"/>: reads and writes are tried at once and, when the descriptor is not ready, wait
/// on <see cref="DescriptorPoller"/>. EIO on a terminal master (its last slave descriptor closed) reads
/// as end of file. Owns the descriptor.
/// </summary>
internal sealed class DescriptorStream : Api.Streaming.AsyncDuplexStream
{
    private readonly CancellationTokenSource _disposed = new();
    private int _fd;

    public DescriptorStream(int fd)
    {
        _fd = fd;
        Interop.Sys.SetNonBlocking(fd, true);
    }

    /// <summary>The descriptor, for ioctls (TIOCSWINSZ); -1 once disposed.</summary>
    public int Descriptor => Volatile.Read(ref _fd);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        while (true)
        {
            int fd = Live();
            int n;
            try
            {
                n = Interop.Sys.Read(fd, buffer.Span);
            }
            catch (ErrnoException error) when (error.Error == Interop.Errno.EIO)
            {
                return 0;
            }
            if (n >= 0)
            {
                return n;
            }
            await WaitAsync(fd, Interop.Sys.POLLIN, linked.Token).ConfigureAwait(false);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        while (!buffer.IsEmpty)
        {
            int fd = Live();
            int n = Interop.Sys.WriteSome(fd, buffer.Span);
            if (n >= 0)
            {
                buffer = buffer[n..];
                continue;
            }
            await WaitAsync(fd, Interop.Sys.POLLOUT, linked.Token).ConfigureAwait(false);
        }
    }

    protected override void Dispose(bool disposing)
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            // Waits end (and leave the poller) before the number can be reused.
            _disposed.Cancel();
            Interop.Sys.Close(fd);
        }
        base.Dispose(disposing);
    }

    private int Live()
    {
        int fd = Volatile.Read(ref _fd);
        return fd >= 0 ? fd : throw new ObjectDisposedException(nameof(DescriptorStream));
    }

    private static async Task WaitAsync(int fd, short events, CancellationToken cancellationToken)
    {
        try
        {
            await DescriptorPoller.Shared.WaitAsync(fd, events, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }
}
