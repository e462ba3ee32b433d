using Berth.Api.Shim;
using Berth.Shim.Logging;
using Berth.Shim.Spawn;

namespace Berth.Shim.Monitor;

/// <summary>
/// The container's stdio as the shim holds it (conmon-rs's container_io and container_log): the
/// reading ends of its stdout and stderr pipes (or the pty master), the writing end of its stdin
/// pipe when it has one, and the CRI log those streams are cut into. Reading and logging go
/// through fixed buffers, so pumping output allocates nothing.
/// </summary>
internal sealed class ContainerOutput : IDisposable
{
    /// <summary>Connections attached at once.</summary>
    public const int MaxAttachers = 8;

    /// <summary>Pipe capacity asked for each output stream (bytes), so a burst waits less on the loop.</summary>
    private const int PipeSize = 256 * 1024;

    private readonly byte[] _buffer;
    private readonly CriLogStream _stdoutStream = new(stderr: false);
    private readonly CriLogStream _stderrStream = new(stderr: true);
    private CriLogFile? _log;
    private int _stdoutFd = -1;
    private int _stderrFd = -1;
    private int _stdinFd = -1;

    /// <summary>The monitor's end of the console socket, until the init stage's terminal arrives on it.</summary>
    private int _console = -1;
    private OciBox? _consoleSize;
    private bool _tty;
    private bool _stdinOnce;

    /// <summary>The attached connections; allocated at the first attach, so a container nobody attaches to pays nothing.</summary>
    private Attacher?[]? _attachers;

    /// <param name="buffer">Scratch for each read(2); the loop's parts share one, as only one reads at a time.</param>
    public ContainerOutput(byte[] buffer)
    {
        _buffer = buffer;
    }

    /// <summary>
    /// Opens the CRI log and makes pipes for the container's stdio: the shim keeps the reading ends; the
    /// stage's ends go into <paramref name="descriptors"/> (as 0, 1, 2) and <paramref name="toClose"/>, for
    /// the caller to close once the stage is spawned. With a terminal the stage gets a console socket
    /// instead (<see cref="ConsoleSocket"/>), and <see cref="ReceiveTerminal"/> takes the pty it makes.
    /// </summary>
    public void SetUp(OciSpec spec, ShimOptions options, List<(int Child, int Parent)> descriptors, List<int> toClose)
    {
        _log = new CriLogFile(options.LogPath, options.LogDirectory);
        bool tty = options.Tty || spec.Process?.Terminal == true;
        _tty = tty;
        _stdinOnce = options.StdinOnce;
        if (tty)
        {
            // The init stage makes the pty inside the container and sends its master back (ReceiveTerminal).
            var (shimEnd, stageEnd) = Interop.Sys.SocketPair();
            _console = shimEnd;
            toClose.Add(stageEnd);
            int devNull = Interop.Sys.Open("/dev/null", Interop.Sys.O_RDWR);
            toClose.Add(devNull);
            descriptors.Add((0, devNull));
            descriptors.Add((1, devNull));
            descriptors.Add((2, devNull));
            descriptors.Add((ConsoleSocket.Fd, stageEnd));
            _consoleSize = spec.Process?.ConsoleSize;
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

    /// <summary>
    /// Takes the terminal's master the init stage sent (it does so before it reports ready, so it is
    /// there now) and sizes it as the spec asks; nothing to do without a terminal.
    /// </summary>
    /// <exception cref="InvalidOperationException">The stage sent none.</exception>
    public void ReceiveTerminal()
    {
        if (_console < 0)
        {
            return;
        }
        int master = ConsoleSocket.TryReceiveMaster(_console);
        Interop.Sys.Close(_console);
        _console = -1;
        if (master < 0)
        {
            throw new InvalidOperationException("the init stage reported ready without sending its terminal");
        }
        _stdoutFd = master;
        if (_consoleSize is { Height: > 0, Width: > 0 } size)
        {
            Interop.Sys.SetWindowSize(master, (ushort)size.Height, (ushort)size.Width);
        }
        Interop.Sys.SetNonBlocking(master, true);
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
            EndAttached(stderr);
            return;
        }
        stream.Write(_buffer.AsSpan(0, n), now, _log!);
        CopyToAttached(stderr, _buffer.AsSpan(0, n));
    }

    /// <summary>
    /// Attaches connection <paramref name="client"/> (CRI Attach): a socket pair per output stream asked for,
    /// whose shim end gets a copy of what is logged; for input a duplicate of the container's stdin pipe, or
    /// of its terminal's master (also what resizes it). The descriptors for berthd go into
    /// <paramref name="handedOver"/>, for the caller to send and close.
    /// </summary>
    /// <exception cref="ShimRequestException">FailedPrecondition when nothing was created or too many attach.</exception>
    public Attached Attach(int client, AttachRequest request, List<int> handedOver)
    {
        if (_log is null)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, "the container has no stdio to attach to");
        }
        _attachers ??= new Attacher?[MaxAttachers];
        int slot = Array.FindIndex(_attachers, attacher => attacher is null);
        if (slot < 0)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"too many attached at once ({MaxAttachers})");
        }
        var attacher = new Attacher { Client = client };
        var attached = new Attached { Tty = _tty, Stdin = _tty || _stdinFd >= 0, StdinOnce = _stdinOnce };
        try
        {
            if (_tty && _stdoutFd >= 0)
            {
                handedOver.Add(Interop.Sys.DuplicateAbove(_stdoutFd, 3));
                attached.Descriptors.Add(StdioStream.Terminal);
            }
            else if (request.Stdin && _stdinFd >= 0)
            {
                handedOver.Add(Interop.Sys.DuplicateAbove(_stdinFd, 3));
                attached.Descriptors.Add(StdioStream.Stdin);
                attacher.HadStdin = true;
            }
            if (request.Stdout || (_tty && request.Stderr))
            {
                attacher.Stdout = OutputSocket(handedOver);
                attached.Descriptors.Add(StdioStream.Stdout);
            }
            if (request.Stderr && !_tty)
            {
                attacher.Stderr = OutputSocket(handedOver);
                attached.Descriptors.Add(StdioStream.Stderr);
            }
        }
        catch
        {
            attacher.Close();
            throw;
        }
        _attachers[slot] = attacher;
        return attached;
    }

    /// <summary>Connection <paramref name="client"/> closed: its attachment ends (and with stdin_once, the container's stdin).</summary>
    public void Detach(int client)
    {
        if (_attachers is null)
        {
            return;
        }
        for (int i = 0; i < _attachers.Length; i++)
        {
            if (_attachers[i] is { } attacher && attacher.Client == client)
            {
                CloseStdin(client);
                attacher.Close();
                _attachers[i] = null;
            }
        }
    }

    /// <summary>
    /// The attacher on <paramref name="client"/> says its stdin ended: with stdin_once and no terminal the
    /// container's stdin is closed, so the process reads end of file (containerd closes it the same way).
    /// </summary>
    public void CloseStdin(int client)
    {
        if (_attachers is null || !_stdinOnce || _tty)
        {
            return;
        }
        foreach (Attacher? attacher in _attachers)
        {
            if (attacher is { HadStdin: true } && attacher.Client == client)
            {
                Interop.Sys.Close(_stdinFd);
                _stdinFd = -1;
                return;
            }
        }
    }

    /// <summary>A socket pair for one output stream of an attacher: the shim keeps the non-blocking end it writes.</summary>
    private static int OutputSocket(List<int> handedOver)
    {
        var (shimEnd, berthdEnd) = Interop.Sys.SocketPair();
        handedOver.Add(berthdEnd);
        Interop.Sys.SetNonBlocking(shimEnd, true);
        return shimEnd;
    }

    /// <summary>
    /// Gives each attacher what was just logged, without ever waiting: what its socket cannot take now is
    /// dropped for that attacher alone (the log has all of it), and an attacher that went away is let go.
    /// </summary>
    private void CopyToAttached(bool stderr, ReadOnlySpan<byte> data)
    {
        if (_attachers is null)
        {
            return;
        }
        foreach (Attacher? attacher in _attachers)
        {
            if (attacher is null)
            {
                continue;
            }
            ref int fd = ref stderr ? ref attacher.Stderr : ref attacher.Stdout;
            if (fd < 0)
            {
                continue;
            }
            try
            {
                Interop.Sys.WriteSome(fd, data);
            }
            catch (ErrnoException)
            {
                Interop.Sys.Close(fd);
                fd = -1;
            }
        }
    }

    /// <summary>The container's stream ended: each attacher's copy of it ends too (end of file in berthd).</summary>
    private void EndAttached(bool stderr)
    {
        if (_attachers is null)
        {
            return;
        }
        foreach (Attacher? attacher in _attachers)
        {
            if (attacher is not null)
            {
                ref int fd = ref stderr ? ref attacher.Stderr : ref attacher.Stdout;
                Interop.Sys.Close(fd);
                fd = -1;
            }
        }
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
        Interop.Sys.Close(_console);
        _stdoutFd = _stderrFd = _stdinFd = _console = -1;
        if (_attachers is not null)
        {
            for (int i = 0; i < _attachers.Length; i++)
            {
                _attachers[i]?.Close();
                _attachers[i] = null;
            }
        }
    }

    public void Dispose() => _log?.Dispose();
}

/// <summary>One attached connection: the shim's ends of its output sockets, and whether it took stdin.</summary>
internal sealed class Attacher
{
    public int Client = -1;
    public int Stdout = -1;
    public int Stderr = -1;
    public bool HadStdin;

    public void Close()
    {
        Interop.Sys.Close(Stdout);
        Interop.Sys.Close(Stderr);
        Stdout = Stderr = -1;
    }
}
