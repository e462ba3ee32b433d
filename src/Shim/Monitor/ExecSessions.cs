using Berth.Api.Shim;
using Berth.Shim.Cgroups;
using Berth.Shim.Exec;
using Berth.Shim.Spawn;
using Google.Protobuf;

namespace Berth.Shim.Monitor;

/// <summary>
/// The running ExecSync commands: each one's exec stage, spawned into the container's namespaces
/// and cgroup, its pidfd, its output pipes with what they captured, and its deadline. A command's
/// answer goes to the connection that asked for it when the command exits.
/// </summary>
internal sealed class ExecSessions
{
    private const int MaxExecs = 8;

    /// <summary>The most bytes kept of each output stream when the request sets no limit (16 MiB).</summary>
    private const int DefaultOutputLimit = 16 << 20;

    /// <summary>Reads left to a command's output pipes once it has exited (children it left may keep them open).</summary>
    private const int DrainRounds = 4096;

    private readonly ExecSession?[] _sessions = new ExecSession?[MaxExecs];
    private readonly ControlClients _clients;
    private readonly byte[] _buffer;

    /// <param name="clients">Where each command's answer goes.</param>
    /// <param name="buffer">Scratch for each read(2); the loop's parts share one, as only one reads at a time.</param>
    public ExecSessions(ControlClients clients, byte[] buffer)
    {
        _clients = clients;
        _buffer = buffer;
    }

    /// <summary>
    /// Starts an ExecSync command for connection <paramref name="client"/>: the exec stage is
    /// spawned into the namespaces of the container's first process (<paramref name="containerPid"/>,
    /// through /proc/&lt;pid&gt;/ns) and into <paramref name="cgroup"/>; the answer waits for its exit.
    /// </summary>
    /// <exception cref="ShimRequestException">InvalidArgument without args, FailedPrecondition when
    /// <see cref="MaxExecs"/> run already, ExecFailed when the stage cannot be started.</exception>
    public void Start(int client, ExecSyncRequest request, int containerPid, string bundle, ICgroup? cgroup)
    {
        if (request.Args.Count == 0)
        {
            throw new ShimRequestException(ErrorCode.InvalidArgument, "exec needs args");
        }
        int slot = Array.IndexOf(_sessions, null);
        if (slot < 0)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"too many ExecSync commands at once ({MaxExecs})");
        }
        var toClose = new List<int>();
        int requestWrite = -1;
        var session = new ExecSession(request.OutputLimit > 0 ? request.OutputLimit : DefaultOutputLimit) { Client = client };
        try
        {
            var joins = new List<NamespaceJoin>();
            (string Name, int Flag)[] kinds =
            [
                ("net", Interop.Sys.CLONE_NEWNET), ("ipc", Interop.Sys.CLONE_NEWIPC), ("uts", Interop.Sys.CLONE_NEWUTS),
                ("cgroup", Interop.Sys.CLONE_NEWCGROUP), ("pid", Interop.Sys.CLONE_NEWPID),
            ];
            foreach (var (name, flag) in kinds)
            {
                int fd = Interop.Sys.Open($"/proc/{containerPid}/ns/{name}", Interop.Sys.O_RDONLY);
                toClose.Add(fd);
                joins.Add(new NamespaceJoin(fd, flag, name));
            }
            int mountNs = Interop.Sys.Open($"/proc/{containerPid}/ns/mnt", Interop.Sys.O_RDONLY);
            toClose.Add(mountNs);
            int devNull = Interop.Sys.Open("/dev/null", Interop.Sys.O_RDONLY);
            toClose.Add(devNull);
            var (outRead, outWrite) = Interop.Sys.Pipe();
            var (errRead, errWrite) = Interop.Sys.Pipe();
            var (statusRead, statusWrite) = Interop.Sys.Pipe();
            (int requestRead, requestWrite) = Interop.Sys.Pipe();
            session.Stdout = outRead;
            session.Stderr = errRead;
            session.Status = statusRead;
            toClose.Add(outWrite);
            toClose.Add(errWrite);
            toClose.Add(statusWrite);
            toClose.Add(requestRead);
            Interop.Sys.SetNonBlocking(outRead, true);
            Interop.Sys.SetNonBlocking(errRead, true);

            session.Pid = NamespaceSpawner.Spawn(new SpawnPlan
            {
                Arguments = ["berth-shim", "exec", bundle],
                Descriptors =
                [
                    (0, devNull), (1, outWrite), (2, errWrite), (StageReport.StatusFd, statusWrite),
                    (ExecStage.RequestFd, requestRead), (ExecStage.MountNamespaceFd, mountNs),
                ],
                Join = joins,
            });
            foreach (int fd in toClose)
            {
                Interop.Sys.Close(fd);
            }
            toClose.Clear();
            session.Pidfd = Interop.Sys.PidfdOpen(session.Pid);
            // Into the container's cgroup before it may go on: the stage waits for the whole request
            // (end of file) before it runs anything, so neither it nor what it starts is ever outside
            // the container's limits and device rules.
            try
            {
                cgroup?.AddProcess(session.Pid);
            }
            catch (ErrnoException e) when (e.Error == Interop.Errno.ESRCH)
            {
                // Already gone (it failed early): its status pipe says why.
            }
            try
            {
                Interop.Sys.WriteAll(requestWrite, request.ToByteArray());
            }
            finally
            {
                Interop.Sys.Close(requestWrite);
                requestWrite = -1;
            }
            if (request.TimeoutMs > 0)
            {
                session.Deadline = Interop.Sys.MonotonicMillis() + request.TimeoutMs;
            }
            _sessions[slot] = session;
            _clients.Defer(client, Pending.Exec);
        }
        catch (Exception e)
        {
            if (session.Pidfd >= 0)
            {
                Interop.Sys.PidfdSignal(session.Pidfd, Interop.Sys.SIGKILL);
                Interop.Sys.WaitPidfd(session.Pidfd, block: true);
            }
            // Closed only now: the stage, killed above, never got its request.
            Interop.Sys.Close(requestWrite);
            session.CloseAll();
            throw new ShimRequestException(ErrorCode.ExecFailed, FailureText.Describe(e));
        }
        finally
        {
            foreach (int fd in toClose)
            {
                Interop.Sys.Close(fd);
            }
        }
    }

    public void AddTo(PollSet set)
    {
        for (int i = 0; i < MaxExecs; i++)
        {
            if (_sessions[i] is not { } exec)
            {
                continue;
            }
            if (exec.Stdout >= 0)
            {
                set.Add(exec.Stdout, Interop.Sys.POLLIN, PollSource.ExecStdout, i);
            }
            if (exec.Stderr >= 0)
            {
                set.Add(exec.Stderr, Interop.Sys.POLLIN, PollSource.ExecStderr, i);
            }
            if (exec.Pidfd >= 0)
            {
                set.Add(exec.Pidfd, Interop.Sys.POLLIN, PollSource.ExecPidfd, i);
            }
        }
    }

    /// <summary>Milliseconds until the nearest deadline of a command not yet killed for it; -1 when none has one.</summary>
    public int NextTimeout()
    {
        long next = long.MaxValue;
        foreach (ExecSession? exec in _sessions)
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

    /// <summary>Keeps what command <paramref name="slot"/> wrote on one stream; at end of stream closes the pipe.</summary>
    public void Pump(int slot, bool stderr)
    {
        if (_sessions[slot] is not { } exec)
        {
            return;
        }
        int n = Pipes.Read(ref stderr ? ref exec.Stderr : ref exec.Stdout, _buffer);
        if (n > 0)
        {
            (stderr ? exec.Err : exec.Out).Append(_buffer.AsSpan(0, n));
        }
    }

    /// <summary>Command <paramref name="slot"/>'s pidfd is readable: reap it, take the rest of its output and answer its connection.</summary>
    public void OnExit(int slot)
    {
        if (_sessions[slot] is not { } exec)
        {
            return;
        }
        var exit = Interop.Sys.WaitPidfd(exec.Pidfd, block: false);
        if (exit is null)
        {
            return;
        }
        // What the command wrote before it exited is in the pipes; children it left behind may
        // keep them open, so read what is there now and no more.
        for (int round = 0; round < DrainRounds && exec.Stdout >= 0 && PollSet.ReadyNow(exec.Stdout); round++)
        {
            Pump(slot, stderr: false);
        }
        for (int round = 0; round < DrainRounds && exec.Stderr >= 0 && PollSet.ReadyNow(exec.Stderr); round++)
        {
            Pump(slot, stderr: true);
        }
        string failure = "";
        if (exec.Status >= 0)
        {
            Span<byte> buffer = stackalloc byte[4096];
            Interop.Sys.SetNonBlocking(exec.Status, true);
            int n = Interop.Sys.Read(exec.Status, buffer);
            if (n > 1 && buffer[0] == StageReport.Error)
            {
                failure = System.Text.Encoding.UTF8.GetString(buffer[1..n]);
            }
        }
        Response response = failure.Length > 0
            ? ControlClients.Error(ErrorCode.ExecFailed, failure)
            : new Response
            {
                ExecSync = new ExecSyncResponse
                {
                    ExitCode = exit.Value.ExitCode,
                    Stdout = ByteString.CopyFrom(exec.Out.Data),
                    Stderr = ByteString.CopyFrom(exec.Err.Data),
                    TimedOut = exec.TimedOut,
                    StdoutTruncated = exec.Out.Truncated,
                    StderrTruncated = exec.Err.Truncated,
                },
            };
        int client = exec.Client;
        exec.CloseAll();
        _sessions[slot] = null;
        if (client >= 0)
        {
            _clients.Send(client, response);
        }
    }

    /// <summary>SIGKILLs each command past its deadline (once; it is answered as timed out when reaped).</summary>
    public void KillOverdue()
    {
        long now = -1;
        foreach (ExecSession? exec in _sessions)
        {
            if (exec is null || exec.TimedOut || exec.Deadline == long.MaxValue)
            {
                continue;
            }
            if (now < 0)
            {
                now = Interop.Sys.MonotonicMillis();
            }
            if (now >= exec.Deadline)
            {
                exec.TimedOut = true;
                Interop.Sys.PidfdSignal(exec.Pidfd, Interop.Sys.SIGKILL);
            }
        }
    }

    /// <summary>Connection <paramref name="client"/> closed: its commands are killed, and their ends go unanswered.</summary>
    public void Abandon(int client)
    {
        foreach (ExecSession? exec in _sessions)
        {
            if (exec is not null && exec.Client == client)
            {
                exec.Client = -1;
                if (exec.Pidfd >= 0)
                {
                    Interop.Sys.PidfdSignal(exec.Pidfd, Interop.Sys.SIGKILL);
                }
            }
        }
    }

    /// <summary>At shutdown: SIGKILLs and reaps every command (waiting up to 5 s each) and tells its connection.</summary>
    public void StopAll()
    {
        for (int i = 0; i < _sessions.Length; i++)
        {
            if (_sessions[i] is not { } exec)
            {
                continue;
            }
            if (exec.Pidfd >= 0)
            {
                Interop.Sys.PidfdSignal(exec.Pidfd, Interop.Sys.SIGKILL);
                PollSet.WaitReadable(exec.Pidfd, 5_000);
                Interop.Sys.WaitPidfd(exec.Pidfd, block: false);
            }
            if (exec.Client >= 0)
            {
                _clients.Send(exec.Client, ControlClients.Error(ErrorCode.FailedPrecondition, "the shim is shutting down"));
            }
            exec.CloseAll();
            _sessions[i] = null;
        }
    }
}
