namespace Berth.Shim.Logging;

/// <summary>
/// The container's log file in the CRI format kubelet reads:
/// <c>&lt;RFC3339Nano time&gt; &lt;stdout|stderr&gt; &lt;P|F&gt; &lt;text&gt;\n</c>.
/// Entries are gathered in a fixed buffer and written with write(2) when it fills or on
/// <see cref="Flush"/>; nothing here allocates after construction except <see cref="Reopen"/>.
/// </summary>
internal sealed class CriLogFile : IDisposable
{
    private const int BufferSize = 64 * 1024;
    private readonly byte[] _buffer = new byte[BufferSize];
    private readonly string? _path;
    private int _used;
    private int _fd = -1;

    /// <summary>A log at <paramref name="path"/> (appended to, created 0640), or a sink that drops everything when null or empty.</summary>
    public CriLogFile(string? path)
    {
        _path = string.IsNullOrEmpty(path) ? null : path;
        Reopen();
    }

    /// <summary>Bytes lost because the file could not be written (disk full, removed directory).</summary>
    public long DroppedBytes { get; private set; }

    /// <summary>The last write error, for the shim's own log.</summary>
    public string? LastError { get; private set; }

    /// <summary>Closes and opens the path again: kubelet renamed the file for rotation.</summary>
    public void Reopen()
    {
        Flush();
        Interop.Sys.Close(_fd);
        _fd = -1;
        if (_path is null)
        {
            return;
        }
        string? directory = Path.GetDirectoryName(_path);
        if (!string.IsNullOrEmpty(directory))
        {
            ShimFiles.MakeDirectories(directory);
        }
        _fd = Interop.Sys.Open(_path, Interop.Sys.O_WRONLY | Interop.Sys.O_APPEND | Interop.Sys.O_CREAT, 0b110_100_000);
    }

    /// <summary>Adds one entry whose text is <paramref name="first"/> followed by <paramref name="second"/>.</summary>
    public void Append(long unixNanos, ReadOnlySpan<byte> stream, bool partial, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        int length = CriTimestamp.Length + 1 + stream.Length + 3 + first.Length + second.Length + 1;
        if (_used + length > _buffer.Length)
        {
            Flush();
        }
        Span<byte> entry = _buffer.AsSpan(_used, length);
        CriTimestamp.Format(unixNanos, entry);
        int at = CriTimestamp.Length;
        entry[at++] = (byte)' ';
        stream.CopyTo(entry[at..]);
        at += stream.Length;
        entry[at++] = (byte)' ';
        entry[at++] = partial ? (byte)'P' : (byte)'F';
        entry[at++] = (byte)' ';
        first.CopyTo(entry[at..]);
        at += first.Length;
        second.CopyTo(entry[at..]);
        at += second.Length;
        entry[at] = (byte)'\n';
        _used += length;
    }

    /// <summary>Writes what is buffered. The log file is a regular file, so write(2) blocks until done.</summary>
    public void Flush()
    {
        if (_used == 0)
        {
            return;
        }
        if (_fd < 0)
        {
            if (_path is not null)
            {
                DroppedBytes += _used;
            }
            _used = 0;
            return;
        }
        try
        {
            Interop.Sys.WriteAll(_fd, _buffer.AsSpan(0, _used));
        }
        catch (ErrnoException e)
        {
            DroppedBytes += _used;
            LastError = e.Message;
        }
        _used = 0;
    }

    public void Dispose()
    {
        Flush();
        Interop.Sys.Close(_fd);
        _fd = -1;
    }
}
