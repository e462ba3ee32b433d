using Berth.Api.Shim;
using Berth.Shim.Spawn;
using Google.Protobuf;

namespace Berth.Shim.Monitor;

internal sealed unsafe partial class ShimMonitor
{
    private const int DefaultOutputLimit = 16 << 20;

    /// <summary>
    /// Starts an ExecSync command: the exec stage is spawned into the container's namespaces (read
    /// from its first process's /proc/&lt;pid&gt;/ns) and cgroup; the answer is deferred to its exit.
    /// </summary>
    private Response? StartExec(int client, ExecSyncRequest request)
    {
        if (_status != Status.Running || _pidfd < 0)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"cannot exec: the container is {_status}");
        }
        if (IsSandbox)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, "cannot exec in a sandbox");
        }
        if (request.Args.Count == 0)
        {
            throw new ShimRequestException(ErrorCode.InvalidArgument, "exec needs args");
        }
        int slot = Array.IndexOf(_execs, null);
        if (slot < 0)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"too many ExecSync commands at once ({MaxExecs})");
        }
        var toClose = new List<int>();
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
                int fd = Interop.Sys.Open($"/proc/{_pid}/ns/{name}", Interop.Sys.O_RDONLY);
                toClose.Add(fd);
                joins.Add(new NamespaceJoin(fd, flag, name));
            }
            int mountNs = Interop.Sys.Open($"/proc/{_pid}/ns/mnt", Interop.Sys.O_RDONLY);
            toClose.Add(mountNs);
            int devNull = Interop.Sys.Open("/dev/null", Interop.Sys.O_RDONLY);
            toClose.Add(devNull);
            var (outRead, outWrite) = Interop.Sys.Pipe();
            var (errRead, errWrite) = Interop.Sys.Pipe();
            var (statusRead, statusWrite) = Interop.Sys.Pipe();
            var (requestRead, requestWrite) = Interop.Sys.Pipe();
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
                Arguments = ["berth-shim", "exec", _bundle],
                Descriptors =
                [
                    (0, devNull), (1, outWrite), (2, errWrite), (StageReport.StatusFd, statusWrite),
                    (Exec.ExecStage.RequestFd, requestRead), (Exec.ExecStage.MountNamespaceFd, mountNs),
                ],
                Join = joins,
            });
            foreach (int fd in toClose)
            {
                Interop.Sys.Close(fd);
            }
            toClose.Clear();
            session.Pidfd = Interop.Sys.PidfdOpen(session.Pid);
            try
            {
                Interop.Sys.WriteAll(requestWrite, request.ToByteArray());
            }
            finally
            {
                Interop.Sys.Close(requestWrite);
            }
            try
            {
                _cgroup?.AddProcess(session.Pid);
            }
            catch (ErrnoException e) when (e.Error == Interop.Errno.ESRCH)
            {
                // Already gone (it failed early): its status pipe says why.
            }
            if (request.TimeoutMs > 0)
            {
                session.Deadline = Interop.Sys.MonotonicMillis() + request.TimeoutMs;
            }
            _execs[slot] = session;
            _clients[client].Pending = Pending.Exec;
            return null;
        }
        catch (Exception e)
        {
            if (session.Pidfd >= 0)
            {
                Interop.Sys.PidfdSignal(session.Pidfd, Interop.Sys.SIGKILL);
                Interop.Sys.WaitPidfd(session.Pidfd, block: true);
            }
            session.CloseAll();
            throw new ShimRequestException(ErrorCode.ExecFailed, e.Message);
        }
        finally
        {
            foreach (int fd in toClose)
            {
                Interop.Sys.Close(fd);
            }
        }
    }

    private void PumpExec(int slot, bool stderr)
    {
        if (_execs[slot] is not { } exec)
        {
            return;
        }
        ref int fd = ref (stderr ? ref exec.Stderr : ref exec.Stdout);
        int n;
        try
        {
            n = Interop.Sys.Read(fd, _readBuffer);
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
            Interop.Sys.Close(fd);
            fd = -1;
            return;
        }
        (stderr ? exec.Err : exec.Out).Append(_readBuffer.AsSpan(0, n));
    }

    private void OnExecExit(int slot)
    {
        if (_execs[slot] is not { } exec)
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
        for (int round = 0; round < 4096 && exec.Stdout >= 0 && ReadyNow(exec.Stdout); round++)
        {
            PumpExec(slot, stderr: false);
        }
        for (int round = 0; round < 4096 && exec.Stderr >= 0 && ReadyNow(exec.Stderr); round++)
        {
            PumpExec(slot, stderr: true);
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
            ? Error(ErrorCode.ExecFailed, failure)
            : new Response
            {
                ExecSync = new ExecSyncResponse
                {
                    ExitCode = exit.Value.ExitCode,
                    Stdout = Bytes(exec.Out.Data),
                    Stderr = Bytes(exec.Err.Data),
                    TimedOut = exec.TimedOut,
                    StdoutTruncated = exec.Out.Truncated,
                    StderrTruncated = exec.Err.Truncated,
                },
            };
        int client = exec.Client;
        exec.CloseAll();
        _execs[slot] = null;
        if (client >= 0)
        {
            Send(client, response);
        }
    }

    private void CheckExecDeadlines()
    {
        long now = -1;
        foreach (ExecSession? exec in _execs)
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
}
