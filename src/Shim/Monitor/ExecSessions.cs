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
    /// <summary>Commands at once, ExecSync and streaming together (each holds a control connection).</summary>
    public const int MaxExecs = 128;

    /// <summary>
    /// Slots streaming sessions (open shells, kubectl cp) never take, so that kubelet's exec probes,
    /// which are ExecSync, still run in a container whose users hold many sessions open.
    /// </summary>
    public const int KeptForExecSync = 16;

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
    /// <see cref="MaxExecs"/> run already (streaming sessions: all but <see cref="KeptForExecSync"/>), ExecFailed when the stage cannot be started.</exception>
    public void Start(int client, ExecSyncRequest request, int containerPid, string bundle, ICgroup? cgroup)
    {
        int slot = FreeSlot(request, streaming: false);
        var session = new ExecSession(request.OutputLimit > 0 ? request.OutputLimit : DefaultOutputLimit) { Client = client };
        var stageEnds = new List<int>();
        try
        {
            int devNull = Interop.Sys.Open("/dev/null", Interop.Sys.O_RDONLY);
            stageEnds.Add(devNull);
            var (outRead, outWrite) = Interop.Sys.Pipe();
            session.Stdout = outRead;
            stageEnds.Add(outWrite);
            var (errRead, errWrite) = Interop.Sys.Pipe();
            session.Stderr = errRead;
            stageEnds.Add(errWrite);
            Interop.Sys.SetNonBlocking(outRead, true);
            Interop.Sys.SetNonBlocking(errRead, true);
            Spawn(session, request, [(0, devNull), (1, outWrite), (2, errWrite)], containerPid, bundle, cgroup);
        }
        catch (Exception e)
        {
            session.Kill();
            throw new ShimRequestException(ErrorCode.ExecFailed, FailureText.Describe(e));
        }
        finally
        {
            CloseAll(stageEnds);
        }
        _sessions[slot] = session;
        _clients.Defer(client, Pending.Exec);
    }

    /// <summary>
    /// Starts a streaming exec (CRI Exec) for connection <paramref name="client"/>, spawned as ExecSync's
    /// is, with its stdio on socket pairs (or one pty when <see cref="ExecRequest.Tty"/>) whose far ends are
    /// sent to the connection with ExecStarted; nothing of its stdio stays in the shim. The connection then
    /// waits for ExecExited, and closing it kills the command.
    /// </summary>
    /// <exception cref="ShimRequestException">As <see cref="Start"/>.</exception>
    public void StartStream(int client, ExecRequest request, int containerPid, string bundle, ICgroup? cgroup)
    {
        ExecSyncRequest process = request.Process ?? new ExecSyncRequest();
        int slot = FreeSlot(process, streaming: true);
        var session = new ExecSession(1) { Client = client, Streaming = true };
        var stageEnds = new List<int>();
        var handedOver = new List<int>();
        var started = new ExecStarted();
        try
        {
            (int Child, int Parent)[] stdio;
            if (request.Tty)
            {
                var (master, terminal) = Interop.Sys.OpenPty();
                handedOver.Add(master);
                stageEnds.Add(terminal);
                started.Descriptors.Add(StdioStream.Terminal);
                stdio = [(0, terminal), (1, terminal), (2, terminal)];
            }
            else
            {
                int devNull = Interop.Sys.Open("/dev/null", Interop.Sys.O_RDWR);
                stageEnds.Add(devNull);
                stdio = [(0, devNull), (1, devNull), (2, devNull)];
                (bool Wanted, StdioStream Kind)[] streams = [(request.Stdin, StdioStream.Stdin), (request.Stdout, StdioStream.Stdout), (request.Stderr, StdioStream.Stderr)];
                for (int fd = 0; fd < 3; fd++)
                {
                    if (!streams[fd].Wanted)
                    {
                        continue;
                    }
                    var (processEnd, berthdEnd) = Interop.Sys.SocketPair();
                    stageEnds.Add(processEnd);
                    handedOver.Add(berthdEnd);
                    started.Descriptors.Add(streams[fd].Kind);
                    stdio[fd] = (fd, processEnd);
                }
            }
            Spawn(session, new ExecSyncRequest(process) { Tty = request.Tty }, stdio, containerPid, bundle, cgroup);
            CloseAll(stageEnds);
            started.Pid = session.Pid;
            _sessions[slot] = session;
            if (_clients.SendWithDescriptors(client, new Response { ExecStarted = started }, handedOver.ToArray()))
            {
                _clients.Defer(client, Pending.Exec);
            }
        }
        catch (Exception e)
        {
            _sessions[slot] = null;
            session.Kill();
            throw new ShimRequestException(ErrorCode.ExecFailed, FailureText.Describe(e));
        }
        finally
        {
            CloseAll(stageEnds);
            CloseAll(handedOver);
        }
    }

    private int StreamingSessions()
    {
        int count = 0;
        foreach (ExecSession? session in _sessions)
        {
            if (session is { Streaming: true })
            {
                count++;
            }
        }
        return count;
    }

    /// <summary>A free session slot for a command with arguments; a streaming session leaves <see cref="KeptForExecSync"/> free.</summary>
    private int FreeSlot(ExecSyncRequest request, bool streaming)
    {
        if (request.Args.Count == 0)
        {
            throw new ShimRequestException(ErrorCode.InvalidArgument, "exec needs args");
        }
        int slot = Array.IndexOf(_sessions, null);
        if (slot < 0)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"too many commands run in the container at once ({MaxExecs})");
        }
        if (streaming && StreamingSessions() >= MaxExecs - KeptForExecSync)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition,
                $"too many exec sessions open in the container at once ({MaxExecs - KeptForExecSync}; {KeptForExecSync} more are kept for ExecSync)");
        }
        return slot;
    }

    /// <summary>
    /// Spawns the exec stage into the container's namespaces with <paramref name="stdio"/> as its 0, 1 and 2,
    /// puts it in the cgroup, then hands it the request, and opens its pidfd and status pipe into <paramref name="session"/>;
    /// on failure the stage is killed before its request pipe closes.
    /// </summary>
    private static void Spawn(ExecSession session, ExecSyncRequest request, (int Child, int Parent)[] stdio, int containerPid, string bundle, ICgroup? cgroup)
    {
        var toClose = new List<int>();
        int requestWrite = -1;
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
            var (statusRead, statusWrite) = Interop.Sys.Pipe();
            session.Status = statusRead;
            toClose.Add(statusWrite);
            (int requestRead, requestWrite) = Interop.Sys.Pipe();
            toClose.Add(requestRead);
            session.Pid = NamespaceSpawner.Spawn(new SpawnPlan
            {
                Arguments = ["berth-shim", "exec", bundle],
                Descriptors =
                [
                    .. stdio, (StageReport.StatusFd, statusWrite), (ExecStage.RequestFd, requestRead), (ExecStage.MountNamespaceFd, mountNs),
                ],
                Join = joins,
            });
            CloseAll(toClose);
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
        }
        catch
        {
            session.Kill();
            // Closed only now: the stage, killed above, never got its request.
            Interop.Sys.Close(requestWrite);
            throw;
        }
        finally
        {
            CloseAll(toClose);
        }
    }

    private static void CloseAll(List<int> descriptors)
    {
        foreach (int fd in descriptors)
        {
            Interop.Sys.Close(fd);
        }
        descriptors.Clear();
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
            : exec.Streaming
            ? new Response { ExecExited = new ExecExited { ExitCode = exit.Value.ExitCode } }
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

    /// <summary>The container's first process ended: every command still running in it is killed (SIGKILL), as containerd's shim kills the execs of a container whose init exited; each is answered when reaped.</summary>
    public void KillAll()
    {
        foreach (ExecSession? exec in _sessions)
        {
            if (exec is not null && exec.Pidfd >= 0)
            {
                Interop.Sys.PidfdSignal(exec.Pidfd, Interop.Sys.SIGKILL);
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
