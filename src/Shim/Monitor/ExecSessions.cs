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
    /// <summary>Session slots: the most commands a container may be configured to run at once.</summary>
    public const int Capacity = ExecLimits.MaxExecs;

    /// <summary>The most bytes kept of each output stream when the request sets no limit (16 MiB).</summary>
    private const int DefaultOutputLimit = 16 << 20;

    /// <summary>Reads left to a command's output pipes once it has exited (children it left may keep them open).</summary>
    private const int DrainRounds = 4096;

    private readonly ExecSession?[] _sessions = new ExecSession?[Capacity];
    private readonly int _limit;
    private readonly ControlClients _clients;
    private readonly byte[] _buffer;

    /// <param name="clients">Where each command's answer goes.</param>
    /// <param name="buffer">Scratch for each read(2); the loop's parts share one, as only one reads at a time.</param>
    /// <param name="limit">Commands at once (shim.json's maxExecs; <see cref="ExecLimits"/>): 0, or out of range, means <see cref="Capacity"/>.</param>
    public ExecSessions(ControlClients clients, byte[] buffer, int limit)
    {
        _limit = limit is >= ExecLimits.MinExecs and <= Capacity ? limit : Capacity;
        _clients = clients;
        _buffer = buffer;
    }

    /// <summary>
    /// Starts an ExecSync command for connection <paramref name="client"/>: the exec stage is
    /// spawned into the namespaces of the container's first process (<paramref name="containerPid"/>,
    /// through /proc/&lt;pid&gt;/ns) and into <paramref name="cgroup"/>; the answer waits for its exit.
    /// </summary>
    /// <exception cref="ShimRequestException">InvalidArgument without args, ResourceExhausted when
    /// the limit run already (streaming sessions: all but <see cref="ExecLimits.KeptForExecSync"/>), ExecFailed when the stage cannot be started.</exception>
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
    /// is, with its stdio on socket pairs whose far ends are sent to the connection with ExecStarted; nothing
    /// of its stdio stays in the shim. With <see cref="ExecRequest.Tty"/> the stage makes a pty inside the
    /// container, and ExecStarted, with its master, waits for it (<see cref="OnTerminal"/>). The connection
    /// then waits for ExecExited, and closing it kills the command.
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
            int devNull = Interop.Sys.Open("/dev/null", Interop.Sys.O_RDWR);
            stageEnds.Add(devNull);
            stdio = [(0, devNull), (1, devNull), (2, devNull)];
            if (request.Tty)
            {
                // The stage makes the pty in the container and sends its master back (OnTerminal).
                var (shimEnd, stageEnd) = Interop.Sys.SocketPair();
                session.Console = shimEnd;
                session.AwaitsTerminal = true;
                stageEnds.Add(stageEnd);
                stdio = [.. stdio, (ConsoleSocket.Fd, stageEnd)];
            }
            else
            {
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
            _sessions[slot] = session;
            if (request.Tty)
            {
                _clients.Defer(client, Pending.Exec);
            }
            else
            {
                started.Pid = session.Pid;
                if (_clients.SendWithDescriptors(client, new Response { ExecStarted = started }, handedOver.ToArray()))
                {
                    _clients.Defer(client, Pending.Exec);
                }
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

    /// <summary>Sessions in use: all of them, or the streaming ones only.</summary>
    private int Count(bool streamingOnly)
    {
        int count = 0;
        foreach (ExecSession? session in _sessions)
        {
            if (session is not null && (session.Streaming || !streamingOnly))
            {
                count++;
            }
        }
        return count;
    }

    /// <summary>A free session slot for a command with arguments; a streaming session leaves <see cref="ExecLimits.KeptForExecSync"/> free.</summary>
    private int FreeSlot(ExecSyncRequest request, bool streaming)
    {
        if (request.Args.Count == 0)
        {
            throw new ShimRequestException(ErrorCode.InvalidArgument, "exec needs args");
        }
        if (Count(streamingOnly: false) >= _limit)
        {
            throw new ShimRequestException(ErrorCode.ResourceExhausted, $"too many commands run in the container at once ({_limit})");
        }
        int sessions = _limit - ExecLimits.KeptForExecSync;
        if (streaming && Count(streamingOnly: true) >= sessions)
        {
            throw new ShimRequestException(ErrorCode.ResourceExhausted,
                $"too many exec sessions open in the container at once ({sessions}; {ExecLimits.KeptForExecSync} more are kept for ExecSync)");
        }
        return Array.IndexOf(_sessions, null);
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
        for (int i = 0; i < Capacity; i++)
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
            if (exec.Console >= 0)
            {
                set.Add(exec.Console, Interop.Sys.POLLIN, PollSource.ExecConsole, i);
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

    /// <summary>
    /// Session <paramref name="slot"/>'s console socket is readable: its stage sent the master of the pty it
    /// made in the container, which goes to the connection with ExecStarted; or it closed the socket without
    /// one (it failed, and its exit says why).
    /// </summary>
    public void OnTerminal(int slot)
    {
        if (_sessions[slot] is not { Console: >= 0 } exec)
        {
            return;
        }
        int master;
        try
        {
            master = ConsoleSocket.TryReceiveMaster(exec.Console);
        }
        catch (InvalidOperationException)
        {
            master = -1;
            Interop.Sys.Close(exec.Console);
            exec.Console = -1;
        }
        if (master < 0)
        {
            return;
        }
        Interop.Sys.Close(exec.Console);
        exec.Console = -1;
        exec.AwaitsTerminal = false;
        try
        {
            var started = new ExecStarted { Pid = exec.Pid, Descriptors = { StdioStream.Terminal } };
            if (exec.Client >= 0 && _clients.SendWithDescriptors(exec.Client, new Response { ExecStarted = started }, [master]))
            {
                _clients.Defer(exec.Client, Pending.Exec);
            }
        }
        finally
        {
            Interop.Sys.Close(master);
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
        if (exec.Console >= 0)
        {
            // It may have sent its terminal in the same turn as it exited: ExecStarted goes first.
            OnTerminal(slot);
        }
        string failure = exec.AwaitsTerminal ? "the exec stage ended before it opened its terminal" : "";
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
                exec.SendKill();
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
                    exec.SendKill();
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
                exec.SendKill();
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
                exec.SendKill();
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
