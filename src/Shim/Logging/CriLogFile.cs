using Microsoft.Win32.SafeHandles;

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
    private readonly string? _directory;
    private int _used;
    private int _fd = -1;

    /// <summary>
    /// A log at <paramref name="path"/> (appended to, created 0640), or a sink that drops everything when
    /// null or empty. Below <paramref name="directory"/> (the pod's log directory, made when missing) no
    /// symbolic link is followed and missing directories are made (0755); null: the whole path is trusted.
    /// </summary>
    /// <exception cref="ErrnoException">The file cannot be opened; ELOOP or ENOTDIR when a link is met below <paramref name="directory"/>.</exception>
    public CriLogFile(string? path, string? directory = null)
    {
        _path = string.IsNullOrEmpty(path) ? null : path;
        _directory = string.IsNullOrEmpty(directory) ? null : directory;
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
        string trusted = _directory ?? Path.GetDirectoryName(_path) ?? "/";
        string prefix = trusted.EndsWith('/') ? trusted : trusted + "/";
        if (!_path.StartsWith(prefix, StringComparison.Ordinal) || _path.Length == prefix.Length)
        {
            throw new UnsafeLogPathException($"the log {_path} is not a file inside {trusted}");
        }
        ShimFiles.MakeDirectories(trusted);
        using SafeFileHandle log = OpenBeneath(trusted, _path[prefix.Length..]);
        _fd = (int)log.DangerousGetHandle();
        log.SetHandleAsInvalid();
    }

    /// <summary>
    /// Opens <paramref name="relative"/> below <paramref name="trusted"/> for appending, one component at
    /// a time relative to its parent's descriptor with O_NOFOLLOW, so that no link, even one swapped in
    /// meanwhile, leads out (as kubelet's own log handling guards against CVE-2021-25741's kind).
    /// </summary>
    private static SafeFileHandle OpenBeneath(string trusted, string relative)
    {
        const Interop.OpenFlags directoryFlags = Interop.OpenFlags.Directory | Interop.OpenFlags.NoFollow | Interop.OpenFlags.CloseOnExec;
        string[] names = relative.Split('/', StringSplitOptions.RemoveEmptyEntries);
        SafeFileHandle parent = Interop.Sys.Open(trusted, Interop.OpenFlags.Directory | Interop.OpenFlags.CloseOnExec);
        try
        {
            foreach (string name in names[..^1])
            {
                SafeFileHandle child;
                try
                {
                    child = Interop.Sys.OpenAt(parent, name, directoryFlags);
                }
                catch (ErrnoException missing) when (missing.Error == Interop.Errno.ENOENT)
                {
                    try
                    {
                        Interop.Sys.MkdirAt(parent, name, (UnixFileMode)0b111_101_101);
                    }
                    catch (ErrnoException raced) when (raced.Error == Interop.Errno.EEXIST)
                    {
                    }
                    child = Interop.Sys.OpenAt(parent, name, directoryFlags);
                }
                parent.Dispose();
                parent = child;
            }
            return Interop.Sys.OpenAt(parent, names[^1],
                Interop.OpenFlags.WriteOnly | Interop.OpenFlags.Append | Interop.OpenFlags.Create | Interop.OpenFlags.NoFollow | Interop.OpenFlags.CloseOnExec,
                (UnixFileMode)0b110_100_000);
        }
        catch (ErrnoException link) when (link.Error is Interop.Errno.ELOOP or Interop.Errno.ENOTDIR)
        {
            throw new UnsafeLogPathException(
                $"the container log {trusted}/{relative} meets a symbolic link or a non-directory below the pod's log directory, where none is followed");
        }
        finally
        {
            parent.Dispose();
        }
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

/// <summary>A container log path the shim will not open: outside the pod's log directory, or through a link below it.</summary>
internal sealed class UnsafeLogPathException(string message) : IOException(message);
