using System.Runtime.InteropServices;

namespace Berth.Shim.Monitor;

/// <summary>Which part of the monitor a descriptor in the poll set belongs to, and so who handles its events.</summary>
internal enum PollSource
{
    /// <summary>The control socket's listening descriptor (<see cref="ControlClients"/>).</summary>
    Listen,
    /// <summary>A control connection (<see cref="ControlClients"/>).</summary>
    Client,
    /// <summary>The container's or sandbox's first process (<see cref="ChildProcess"/>).</summary>
    Pidfd,
    /// <summary>The process's stdout pipe or pty (<see cref="ContainerOutput"/>).</summary>
    Stdout,
    /// <summary>The process's stderr pipe (<see cref="ContainerOutput"/>).</summary>
    Stderr,
    /// <summary>An ExecSync command's stdout (<see cref="ExecSessions"/>).</summary>
    ExecStdout,
    /// <summary>An ExecSync command's stderr (<see cref="ExecSessions"/>).</summary>
    ExecStderr,
    /// <summary>An ExecSync command's pidfd (<see cref="ExecSessions"/>).</summary>
    ExecPidfd,
    /// <summary>A streaming exec's console socket, until its terminal arrives (<see cref="ExecSessions"/>).</summary>
    ExecConsole,
}

/// <summary>
/// The monitor's poll(2) set, rebuilt by each part on every turn of the loop: a fixed native array
/// of pollfd entries, each tagged with its <see cref="PollSource"/> and the owner's index for it
/// (a client slot, an exec slot). Filling and reading it allocates nothing.
/// </summary>
internal sealed unsafe class PollSet : IDisposable
{
    /// <summary>What the parts can ask for: every client, the listener, the pidfd, 2 stdio, and 3 per exec (stdout, stderr and pidfd; or console socket and pidfd).</summary>
    private const int Capacity = ControlClients.MaxClients + 1 + 1 + 2 + 3 * ExecSessions.Capacity;

    private readonly Interop.PollFd* _fds = (Interop.PollFd*)NativeMemory.AllocZeroed((nuint)(Capacity * sizeof(Interop.PollFd)));
    private readonly PollSource[] _sources = new PollSource[Capacity];
    private readonly int[] _indexes = new int[Capacity];

    public int Count { get; private set; }

    public void Clear() => Count = 0;

    /// <summary>Watches <paramref name="fd"/> for <paramref name="events"/> (0: only hang-up and errors) on behalf of <paramref name="source"/>.</summary>
    public void Add(int fd, short events, PollSource source, int index = 0)
    {
        _fds[Count] = new Interop.PollFd { Fd = fd, Events = events };
        _sources[Count] = source;
        _indexes[Count] = index;
        Count++;
    }

    /// <summary>poll(2) over the set: the number of ready entries, 0 on timeout (-1 waits for ever).</summary>
    public int Wait(int timeoutMs) => Interop.Sys.Poll(_fds, Count, timeoutMs);

    /// <summary>The events of entry <paramref name="i"/> after <see cref="Wait"/>.</summary>
    public short ReadyEvents(int i) => _fds[i].Revents;

    public PollSource Source(int i) => _sources[i];

    public int Index(int i) => _indexes[i];

    /// <summary>Whether <paramref name="fd"/> has something to read (or is at end of file) right now.</summary>
    public static bool ReadyNow(int fd)
    {
        Interop.PollFd one = new() { Fd = fd, Events = Interop.Sys.POLLIN };
        return Interop.Sys.Poll(&one, 1, 0) > 0;
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for <paramref name="fd"/> to become readable (a pidfd: its process exited).</summary>
    public static void WaitReadable(int fd, int timeoutMs)
    {
        Interop.PollFd one = new() { Fd = fd, Events = Interop.Sys.POLLIN };
        long deadline = Interop.Sys.MonotonicMillis() + timeoutMs;
        while (Interop.Sys.MonotonicMillis() < deadline)
        {
            if (Interop.Sys.Poll(&one, 1, (int)Math.Max(1, deadline - Interop.Sys.MonotonicMillis())) > 0)
            {
                return;
            }
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for <paramref name="fd"/> to take more bytes.</summary>
    public static void WaitWritable(int fd, int timeoutMs)
    {
        Interop.PollFd one = new() { Fd = fd, Events = Interop.Sys.POLLOUT };
        Interop.Sys.Poll(&one, 1, timeoutMs);
    }

    public void Dispose() => NativeMemory.Free(_fds);
}
