using System.Runtime.InteropServices;
using Berth.Api.Shim;
using Berth.Shim.Cgroups;
using Berth.Shim.Logging;

namespace Berth.Shim.Monitor;

/// <summary>
/// <c>berth-shim serve</c>'s long-lived state and loop. One thread, one poll(2) over the listen
/// socket, the control connections, the process's pidfd, its stdio pipes and the running ExecSync
/// commands. In steady state (an idle container, or one that only writes output) nothing in the
/// loop allocates: descriptors live in fixed arrays and output goes through fixed buffers.
/// </summary>
internal sealed unsafe partial class ShimMonitor : IDisposable
{
    private const int MaxClients = 16;
    private const int MaxExecs = 8;
    private const int MaxPoll = 64;

    private const int KindListen = 1;
    private const int KindPidfd = 2;
    private const int KindStdout = 3;
    private const int KindStderr = 4;
    private const int KindClient = 5;
    private const int KindExecOut = 6;
    private const int KindExecErr = 7;
    private const int KindExecPid = 8;

    private readonly string _bundle;
    private readonly OciSpec? _spec;
    private readonly ShimOptions? _options;
    private readonly string? _loadError;
    private readonly string _exitPath;
    private readonly string _socketPath;

    private readonly ClientSlot[] _clients = new ClientSlot[MaxClients];
    private readonly ExecSession?[] _execs = new ExecSession?[MaxExecs];
    private readonly Interop.PollFd* _poll;
    private readonly int[] _pollKind = new int[MaxPoll];
    private readonly int[] _pollIndex = new int[MaxPoll];
    private readonly byte[] _readBuffer = new byte[64 * 1024];

    private int _listenFd = -1;
    private bool _stopping;
    private bool _trimWhenIdle;

    // The process.
    private Status _status = Status.Initial;
    private int _pid;
    private int _pidfd = -1;
    private int _statusFd = -1;
    private int _gateFd = -1;
    private long _createdAt;
    private long _startedAt;
    private long _finishedAt;
    private int _exitCode;
    private string _reason = "";
    private string _message = "";

    // Its stdio and log.
    private int _stdoutFd = -1;
    private int _stderrFd = -1;
    private int _stdinFd = -1;
    private CriLogFile? _log;
    private readonly CriLogStream _stdoutStream = new(stderr: false);
    private readonly CriLogStream _stderrStream = new(stderr: true);

    private ICgroup? _cgroup;
    private ulong _oomBaseline;
    private readonly List<string> _pins = [];

    public ShimMonitor(string bundle)
    {
        _bundle = bundle;
        try
        {
            _spec = OciJson.ReadSpec(BundleLayout.ConfigPath(bundle));
            _options = ShimJson.ReadOptions(BundleLayout.OptionsPath(bundle));
        }
        catch (Exception e)
        {
            _loadError = $"reading the bundle {bundle}: {e.Message}";
            ShimLog.Write(_loadError);
        }
        _exitPath = BundleLayout.ExitPath(bundle, _options ?? new ShimOptions());
        _socketPath = BundleLayout.SocketPath(bundle, _options ?? new ShimOptions());
        for (int i = 0; i < MaxClients; i++)
        {
            _clients[i] = new ClientSlot();
        }
        _poll = (Interop.PollFd*)NativeMemory.AllocZeroed((nuint)(MaxPoll * sizeof(Interop.PollFd)));
    }

    private string Id => _options?.Id ?? "";

    private bool IsSandbox => _options?.Kind == ShimKind.Sandbox;

    /// <summary>Binds the socket, writes the pid file and serves until Shutdown.</summary>
    public int Run()
    {
        if (File.Exists(_socketPath) || new FileInfo(_socketPath).LinkTarget is not null)
        {
            File.Delete(_socketPath);
        }
        _listenFd = Interop.Sys.ListenUnix(_socketPath, 32);
        AtomicFile.Write(BundleLayout.PidPath(_bundle), System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n"));
        ShimLog.Write($"serving {_options?.Kind} {Id} on {_socketPath}");
        Footprint.Trim();
        while (!_stopping)
        {
            int count = BuildPollSet();
            if (_trimWhenIdle)
            {
                // Requests allocate (protobuf, JSON, spawning); once they stop, give the memory back.
                if (Interop.Sys.Poll(_poll, count, 0) == 0)
                {
                    _trimWhenIdle = false;
                    Footprint.Trim();
                }
                count = BuildPollSet();
            }
            Interop.Sys.Poll(_poll, count, NextTimeout());
            for (int i = 0; i < count && !_stopping; i++)
            {
                short revents = _poll[i].Revents;
                if (revents == 0)
                {
                    continue;
                }
                Dispatch(_pollKind[i], _pollIndex[i], revents);
            }
            _log?.Flush();
            CheckExecDeadlines();
        }
        return 0;
    }

    private int BuildPollSet()
    {
        int n = 0;
        bool freeSlot = false;
        for (int i = 0; i < MaxClients; i++)
        {
            ClientSlot client = _clients[i];
            if (!client.InUse)
            {
                freeSlot = true;
                continue;
            }
            // A connection waiting for its answer is watched only for hang-up.
            Add(ref n, client.Fd, client.Pending == Pending.None ? Interop.Sys.POLLIN : (short)0, KindClient, i);
        }
        if (freeSlot)
        {
            Add(ref n, _listenFd, Interop.Sys.POLLIN, KindListen, 0);
        }
        if (_pidfd >= 0)
        {
            Add(ref n, _pidfd, Interop.Sys.POLLIN, KindPidfd, 0);
        }
        if (_stdoutFd >= 0)
        {
            Add(ref n, _stdoutFd, Interop.Sys.POLLIN, KindStdout, 0);
        }
        if (_stderrFd >= 0)
        {
            Add(ref n, _stderrFd, Interop.Sys.POLLIN, KindStderr, 0);
        }
        for (int i = 0; i < MaxExecs; i++)
        {
            if (_execs[i] is not { } exec)
            {
                continue;
            }
            if (exec.Stdout >= 0)
            {
                Add(ref n, exec.Stdout, Interop.Sys.POLLIN, KindExecOut, i);
            }
            if (exec.Stderr >= 0)
            {
                Add(ref n, exec.Stderr, Interop.Sys.POLLIN, KindExecErr, i);
            }
            if (exec.Pidfd >= 0)
            {
                Add(ref n, exec.Pidfd, Interop.Sys.POLLIN, KindExecPid, i);
            }
        }
        return n;
    }

    private void Add(ref int n, int fd, short events, int kind, int index)
    {
        _poll[n].Fd = fd;
        _poll[n].Events = events;
        _poll[n].Revents = 0;
        _pollKind[n] = kind;
        _pollIndex[n] = index;
        n++;
    }

    private int NextTimeout()
    {
        long next = long.MaxValue;
        foreach (ExecSession? exec in _execs)
        {
            if (exec is not null && !exec.TimedOut && exec.Deadline < next)
            {
                next = exec.Deadline;
            }
        }
        if (next == long.MaxValue)
        {
            return -1;
        }
        return (int)Math.Clamp(next - Interop.Sys.MonotonicMillis(), 0, int.MaxValue);
    }

    private void Dispatch(int kind, int index, short revents)
    {
        switch (kind)
        {
            case KindListen:
                AcceptClient();
                break;
            case KindClient:
                ServiceClient(index, revents);
                break;
            case KindPidfd:
                OnProcessExit();
                break;
            case KindStdout:
                PumpOutput(ref _stdoutFd, _stdoutStream);
                break;
            case KindStderr:
                PumpOutput(ref _stderrFd, _stderrStream);
                break;
            case KindExecOut:
                PumpExec(index, stderr: false);
                break;
            case KindExecErr:
                PumpExec(index, stderr: true);
                break;
            case KindExecPid:
                OnExecExit(index);
                break;
        }
    }

    /// <summary>Moves what the process wrote into the CRI log; at end of stream closes the pipe.</summary>
    private void PumpOutput(ref int fd, CriLogStream stream)
    {
        int n;
        try
        {
            n = Interop.Sys.Read(fd, _readBuffer);
        }
        catch (ErrnoException)
        {
            // EIO: the pty's last slave descriptor closed, which is its end of file.
            n = 0;
        }
        if (n < 0)
        {
            return;
        }
        long now = Interop.Sys.RealtimeNanos();
        if (n == 0)
        {
            stream.End(now, _log!);
            Interop.Sys.Close(fd);
            fd = -1;
            return;
        }
        stream.Write(_readBuffer.AsSpan(0, n), now, _log!);
    }

    /// <summary>Reads each output pipe until it has nothing more right now (before recording an exit).</summary>
    private void DrainOutput()
    {
        for (int round = 0; round < 1024 && _stdoutFd >= 0; round++)
        {
            int before = _stdoutFd;
            if (!ReadyNow(_stdoutFd))
            {
                break;
            }
            PumpOutput(ref _stdoutFd, _stdoutStream);
            if (before != _stdoutFd)
            {
                break;
            }
        }
        for (int round = 0; round < 1024 && _stderrFd >= 0; round++)
        {
            int before = _stderrFd;
            if (!ReadyNow(_stderrFd))
            {
                break;
            }
            PumpOutput(ref _stderrFd, _stderrStream);
            if (before != _stderrFd)
            {
                break;
            }
        }
        _log?.Flush();
    }

    private static bool ReadyNow(int fd)
    {
        Interop.PollFd one = new() { Fd = fd, Events = Interop.Sys.POLLIN };
        return Interop.Sys.Poll(&one, 1, 0) > 0;
    }

    private void AcceptClient()
    {
        int fd = Interop.Sys.Accept(_listenFd);
        if (fd < 0)
        {
            return;
        }
        foreach (ClientSlot slot in _clients)
        {
            if (!slot.InUse)
            {
                slot.Fd = fd;
                slot.Length = 0;
                slot.Pending = Pending.None;
                return;
            }
        }
        Interop.Sys.Close(fd);
    }

    private void CloseClient(int index)
    {
        ClientSlot slot = _clients[index];
        if (slot.Pending == Pending.Exec)
        {
            // Nobody wants the output any more: stop the command.
            foreach (ExecSession? exec in _execs)
            {
                if (exec is not null && exec.Client == index)
                {
                    exec.Client = -1;
                    if (exec.Pidfd >= 0)
                    {
                        Interop.Sys.PidfdSignal(exec.Pidfd, Interop.Sys.SIGKILL);
                    }
                }
            }
        }
        slot.Reset();
    }

    private void ServiceClient(int index, short revents)
    {
        ClientSlot slot = _clients[index];
        if (slot.Pending != Pending.None)
        {
            if ((revents & (Interop.Sys.POLLHUP | Interop.Sys.POLLERR | Interop.Sys.POLLNVAL)) != 0)
            {
                CloseClient(index);
            }
            return;
        }
        slot.Reserve(4096);
        int n;
        try
        {
            n = Interop.Sys.Read(slot.Fd, slot.Buffer.AsSpan(slot.Length));
        }
        catch (ErrnoException)
        {
            n = 0;
        }
        if (n < 0)
        {
            return;
        }
        if (n == 0)
        {
            CloseClient(index);
            return;
        }
        slot.Length += n;
        while (slot.InUse && slot.Pending == Pending.None && slot.Length >= ShimFraming.HeaderLength)
        {
            int length;
            try
            {
                length = ShimFraming.ReadHeader(slot.Buffer);
            }
            catch (InvalidDataException e)
            {
                ShimLog.Write($"closing a connection: {e.Message}");
                CloseClient(index);
                return;
            }
            if (slot.Length < ShimFraming.HeaderLength + length)
            {
                slot.Reserve(ShimFraming.HeaderLength + length - slot.Length);
                return;
            }
            Request request;
            try
            {
                request = Request.Parser.ParseFrom(slot.Buffer, ShimFraming.HeaderLength, length);
            }
            catch (Exception e)
            {
                ShimLog.Write($"closing a connection: bad request: {e.Message}");
                CloseClient(index);
                return;
            }
            int consumed = ShimFraming.HeaderLength + length;
            Buffer.BlockCopy(slot.Buffer, consumed, slot.Buffer, 0, slot.Length - consumed);
            slot.Length -= consumed;
            Handle(index, request);
        }
    }

    /// <summary>Writes a framed response; a connection that cannot take it within 10 s is closed.</summary>
    private void Send(int index, Response response)
    {
        ClientSlot slot = _clients[index];
        if (!slot.InUse)
        {
            return;
        }
        slot.Pending = Pending.None;
        byte[] frame = ShimFraming.Encode(response);
        ReadOnlySpan<byte> rest = frame;
        long deadline = Interop.Sys.MonotonicMillis() + 10_000;
        while (!rest.IsEmpty)
        {
            int n;
            try
            {
                n = Interop.Sys.WriteSome(slot.Fd, rest);
            }
            catch (ErrnoException)
            {
                CloseClient(index);
                return;
            }
            if (n >= 0)
            {
                rest = rest[n..];
                continue;
            }
            long left = deadline - Interop.Sys.MonotonicMillis();
            if (left <= 0)
            {
                CloseClient(index);
                return;
            }
            Interop.PollFd one = new() { Fd = slot.Fd, Events = Interop.Sys.POLLOUT };
            Interop.Sys.Poll(&one, 1, (int)left);
        }
    }

    private static Response Error(ErrorCode code, string message) => new() { Code = code, Error = message };

    private StateResponse CurrentState() => new()
    {
        Id = Id,
        Status = _status,
        Pid = _pid,
        ExitCode = _exitCode,
        CreatedAt = _createdAt,
        StartedAt = _startedAt,
        FinishedAt = _finishedAt,
        Reason = _reason,
        Message = _message,
    };

    public void Dispose()
    {
        foreach (ClientSlot slot in _clients)
        {
            slot.Reset();
        }
        Interop.Sys.Close(_listenFd);
        _log?.Dispose();
        NativeMemory.Free(_poll);
    }
}
