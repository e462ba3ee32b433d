using Berth.Api.Shim;
using Berth.Shim.Logging;

namespace Berth.Shim.Monitor;

/// <summary>
/// The container's stdio as the shim holds it (conmon-rs's container_io and container_log): the
/// reading ends of its stdout and stderr pipes (or the pty master), the writing end of its stdin
/// pipe when it has one, and the CRI log those streams are cut into. Reading and logging go
/// through fixed buffers, so pumping output allocates nothing.
/// </summary>
internal sealed class ContainerOutput : IDisposable
{
    /// <summary>Pipe capacity asked for each output stream (bytes), so a burst waits less on the loop.</summary>
    private const int PipeSize = 256 * 1024;

    private readonly byte[] _buffer;
    private readonly CriLogStream _stdoutStream = new(stderr: false);
    private readonly CriLogStream _stderrStream = new(stderr: true);
    private CriLogFile? _log;
    private int _stdoutFd = -1;
    private int _stderrFd = -1;
    private int _stdinFd = -1;

    /// <param name="buffer">Scratch for each read(2); the loop's parts share one, as only one reads at a time.</param>
    public ContainerOutput(byte[] buffer)
    {
        _buffer = buffer;
    }

    /// <summary>
    /// Opens the CRI log and makes pipes (or a pty) for the container's stdio: the shim keeps the
    /// reading ends; the stage's ends go into <paramref name="descriptors"/> (as 0, 1, 2) and
    /// <paramref name="toClose"/>, for the caller to close once the stage is spawned.
    /// </summary>
    public void SetUp(OciSpec spec, ShimOptions options, List<(int Child, int Parent)> descriptors, List<int> toClose)
    {
        _log = new CriLogFile(options.LogPath, options.LogDirectory);
        bool tty = options.Tty || spec.Process?.Terminal == true;
        if (tty)
        {
            var (master, slave) = Interop.Sys.OpenPty();
            toClose.Add(slave);
            if (spec.Process?.ConsoleSize is { } size && size.Height > 0 && size.Width > 0)
            {
                Interop.Sys.SetWindowSize(master, (ushort)size.Height, (ushort)size.Width);
            }
            Interop.Sys.SetNonBlocking(master, true);
            _stdoutFd = master;
            descriptors.Add((0, slave));
            descriptors.Add((1, slave));
            descriptors.Add((2, slave));
            return;
        }
        if (options.Stdin)
        {
            var (stdinRead, stdinWrite) = Interop.Sys.Pipe();
            _stdinFd = stdinWrite;
            toClose.Add(stdinRead);
            descriptors.Add((0, stdinRead));
        }
        else
        {
            int devNull = Interop.Sys.Open("/dev/null", Interop.Sys.O_RDONLY);
            toClose.Add(devNull);
            descriptors.Add((0, devNull));
        }
        var (outRead, outWrite) = Interop.Sys.Pipe();
        var (errRead, errWrite) = Interop.Sys.Pipe();
        // Only the shim's ends are non-blocking: a container writing faster than the log is stored waits.
        Interop.Sys.SetNonBlocking(outRead, true);
        Interop.Sys.SetNonBlocking(errRead, true);
        Interop.Sys.TrySetPipeSize(outRead, PipeSize);
        Interop.Sys.TrySetPipeSize(errRead, PipeSize);
        _stdoutFd = outRead;
        _stderrFd = errRead;
        toClose.Add(outWrite);
        toClose.Add(errWrite);
        descriptors.Add((1, outWrite));
        descriptors.Add((2, errWrite));
    }

    public void AddTo(PollSet set)
    {
        if (_stdoutFd >= 0)
        {
            set.Add(_stdoutFd, Interop.Sys.POLLIN, PollSource.Stdout);
        }
        if (_stderrFd >= 0)
        {
            set.Add(_stderrFd, Interop.Sys.POLLIN, PollSource.Stderr);
        }
    }

    /// <summary>Moves what the process wrote on one stream into the CRI log; at end of stream closes the pipe.</summary>
    public void Pump(bool stderr)
    {
        int n = Pipes.Read(ref stderr ? ref _stderrFd : ref _stdoutFd, _buffer);
        if (n < 0)
        {
            return;
        }
        CriLogStream stream = stderr ? _stderrStream : _stdoutStream;
        long now = Interop.Sys.RealtimeNanos();
        if (n == 0)
        {
            stream.End(now, _log!);
            return;
        }
        stream.Write(_buffer.AsSpan(0, n), now, _log!);
    }

    /// <summary>Reads each output stream until it has nothing more right now (before an exit is recorded), then flushes the log.</summary>
    public void Drain()
    {
        DrainStream(stderr: false);
        DrainStream(stderr: true);
        Flush();
    }

    private void DrainStream(bool stderr)
    {
        ref int fd = ref stderr ? ref _stderrFd : ref _stdoutFd;
        for (int round = 0; round < 1024 && fd >= 0; round++)
        {
            int before = fd;
            if (!PollSet.ReadyNow(fd))
            {
                break;
            }
            Pump(stderr);
            if (before != fd)
            {
                break;
            }
        }
    }

    /// <summary>Writes the log's buffered entries (once per turn of the loop).</summary>
    public void Flush() => _log?.Flush();

    /// <summary>Opens the log path again: kubelet renamed the file for rotation.</summary>
    /// <exception cref="ShimRequestException">FailedPrecondition when no log is open.</exception>
    public void ReopenLog()
    {
        if (_log is null)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, "no log is open");
        }
        _log.Reopen();
    }

    /// <summary>Closes the shim's ends of the stdio pipes (at shutdown; the log stays open until <see cref="Dispose"/>).</summary>
    public void CloseStreams()
    {
        Interop.Sys.Close(_stdoutFd);
        Interop.Sys.Close(_stderrFd);
        Interop.Sys.Close(_stdinFd);
        _stdoutFd = _stderrFd = _stdinFd = -1;
    }

    public void Dispose() => _log?.Dispose();
}
