using Berth.Api.Shim;
using Google.Protobuf;

namespace Berth.Shim.Monitor;

internal sealed unsafe partial class ShimMonitor
{
    private void Handle(int index, Request request)
    {
        _trimWhenIdle = true;
        Response? response;
        try
        {
            if (_loadError is not null && request.KindCase is not (Request.KindOneofCase.State or Request.KindOneofCase.Shutdown))
            {
                throw new ShimRequestException(ErrorCode.InvalidArgument, _loadError);
            }
            response = request.KindCase switch
            {
                Request.KindOneofCase.Create => Create(),
                Request.KindOneofCase.Start => Start(),
                Request.KindOneofCase.State => new Response { State = CurrentState() },
                Request.KindOneofCase.Wait => Wait(index),
                Request.KindOneofCase.Kill => Kill(request.Kill),
                Request.KindOneofCase.ExecSync => StartExec(index, request.ExecSync),
                Request.KindOneofCase.UpdateResources => UpdateResources(request.UpdateResources),
                Request.KindOneofCase.ReopenLog => ReopenLog(),
                Request.KindOneofCase.Shutdown => Shutdown(),
                _ => Error(ErrorCode.InvalidArgument, "empty or unknown request"),
            };
        }
        catch (ShimRequestException e)
        {
            response = Error(e.Code, e.Message);
        }
        catch (Exception e)
        {
            ShimLog.Write($"{request.KindCase} failed: {e}");
            response = Error(ErrorCode.Internal, $"{request.KindCase}: {e.Message}");
        }
        if (response is not null)
        {
            Send(index, response);
        }
        if (_stopping)
        {
            Finish();
        }
    }

    private Response? Wait(int index)
    {
        if (_status == Status.Exited)
        {
            return new Response { State = CurrentState() };
        }
        if (_status == Status.Initial)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, "nothing has been created to wait for");
        }
        _clients[index].Pending = Pending.Exit;
        return null;
    }

    private Response Kill(KillRequest request)
    {
        if (request.Signal is 0 or > 64)
        {
            throw new ShimRequestException(ErrorCode.InvalidArgument, $"signal {request.Signal} is out of range");
        }
        if (_status is Status.Initial)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, "nothing has been created to signal");
        }
        int signal = (int)request.Signal;
        if (request.All && _cgroup is not null)
        {
            foreach (int pid in _cgroup.Processes())
            {
                Interop.Sys.Kill(pid, signal);
            }
        }
        if (_pidfd >= 0)
        {
            Interop.Sys.PidfdSignal(_pidfd, signal);
        }
        return new Response();
    }

    private Response UpdateResources(UpdateResourcesRequest request)
    {
        if (_cgroup is null)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, "the container has no cgroup (no cgroupsPath, or not created)");
        }
        LinuxResources resources;
        try
        {
            resources = OciJson.ParseResources(request.ResourcesJson.Span);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ShimRequestException(ErrorCode.InvalidArgument, $"resources: {e.Message}");
        }
        try
        {
            _cgroup.Update(resources);
        }
        catch (ArgumentException e)
        {
            throw new ShimRequestException(ErrorCode.InvalidArgument, $"updating cgroup {_cgroup.Path}: {e.Message}");
        }
        catch (Cgroups.CgroupUnsupportedException e)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"updating cgroup {_cgroup.Path}: {e.Message}");
        }
        catch (IOException e)
        {
            throw new ShimRequestException(ErrorCode.Internal, $"updating cgroup {_cgroup.Path}: {e.Message}");
        }
        return new Response();
    }

    private Response ReopenLog()
    {
        if (_log is null)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, "no log is open");
        }
        try
        {
            _log.Reopen();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ShimRequestException(ErrorCode.Internal, $"reopening {_options?.LogPath}: {e.Message}");
        }
        return new Response();
    }

    /// <summary>The process ended: reap it, flush its output, work out why, record it durably, tell the waiters.</summary>
    private void OnProcessExit()
    {
        var exit = Interop.Sys.WaitPidfd(_pidfd, block: false);
        if (exit is null)
        {
            return;
        }
        RecordExit(exit.Value.ExitCode, null);
    }

    private void RecordExit(int exitCode, string? failure)
    {
        Interop.Sys.Close(_pidfd);
        _pidfd = -1;
        Interop.Sys.Close(_gateFd);
        _gateFd = -1;
        Interop.Sys.Close(_statusFd);
        _statusFd = -1;
        DrainOutput();
        _finishedAt = Interop.Sys.RealtimeNanos();
        _exitCode = exitCode;
        ulong ooms = 0;
        try
        {
            ooms = _cgroup?.OomKillCount() ?? 0;
        }
        catch (IOException)
        {
        }
        if (failure is not null)
        {
            _reason = "Error";
            _message = failure;
        }
        else if (ooms > _oomBaseline)
        {
            _reason = "OOMKilled";
        }
        else
        {
            _reason = exitCode == 0 ? "Completed" : "Error";
        }
        try
        {
            AtomicFile.Write(_exitPath, ShimJson.Serialize(new ExitRecord
            {
                Id = Id,
                Pid = _pid,
                ExitCode = _exitCode,
                StartedAt = _startedAt,
                FinishedAt = _finishedAt,
                Reason = _reason,
                Message = _message.Length > 0 ? _message : null,
            }));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ShimLog.Write($"writing the exit file {_exitPath}: {e.Message}");
        }
        _status = Status.Exited;
        ShimLog.Write($"process {_pid} exited: code {_exitCode}, {_reason}");
        for (int i = 0; i < _clients.Length; i++)
        {
            if (_clients[i].InUse && _clients[i].Pending == Pending.Exit)
            {
                Send(i, new Response { State = CurrentState() });
            }
        }
    }

    /// <summary>Kills what is left, waits for it, removes the cgroup, the pins and the socket; the loop then ends.</summary>
    private Response Shutdown()
    {
        var problems = new List<string>();
        if (_pidfd >= 0)
        {
            try
            {
                KillEverything();
                WaitExit(_pidfd, 10_000);
                var exit = Interop.Sys.WaitPidfd(_pidfd, block: false);
                if (exit is not null)
                {
                    RecordExit(exit.Value.ExitCode, null);
                }
                else
                {
                    problems.Add($"process {_pid} did not exit after SIGKILL");
                }
            }
            catch (Exception e) when (e is IOException)
            {
                problems.Add(e.Message);
            }
        }
        for (int i = 0; i < _execs.Length; i++)
        {
            if (_execs[i] is { } exec)
            {
                if (exec.Pidfd >= 0)
                {
                    Interop.Sys.PidfdSignal(exec.Pidfd, Interop.Sys.SIGKILL);
                    WaitExit(exec.Pidfd, 5_000);
                    Interop.Sys.WaitPidfd(exec.Pidfd, block: false);
                }
                if (exec.Client >= 0)
                {
                    Send(exec.Client, Error(ErrorCode.FailedPrecondition, "the shim is shutting down"));
                }
                exec.CloseAll();
                _execs[i] = null;
            }
        }
        Interop.Sys.Close(_stdoutFd);
        Interop.Sys.Close(_stderrFd);
        Interop.Sys.Close(_stdinFd);
        _stdoutFd = _stderrFd = _stdinFd = -1;
        UnpinNamespaces(problems);
        if (_cgroup is not null)
        {
            try
            {
                for (int attempt = 0; attempt < 50 && _cgroup.Processes().Count > 0; attempt++)
                {
                    foreach (int pid in _cgroup.Processes())
                    {
                        Interop.Sys.Kill(pid, Interop.Sys.SIGKILL);
                    }
                    Thread.Sleep(20);
                }
                _cgroup.Delete();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problems.Add($"deleting cgroup {_cgroup.Path}: {e.Message}");
            }
        }
        TryDelete(_socketPath);
        TryDelete(BundleLayout.PidPath(_bundle));
        _stopping = true;
        ShimLog.Write(problems.Count == 0 ? "shut down" : "shut down with problems: " + string.Join("; ", problems));
        return problems.Count == 0 ? new Response() : Error(ErrorCode.Internal, string.Join("; ", problems));
    }

    private void KillEverything()
    {
        if (_cgroup is not null)
        {
            foreach (int pid in _cgroup.Processes())
            {
                Interop.Sys.Kill(pid, Interop.Sys.SIGKILL);
            }
        }
        if (_pidfd >= 0)
        {
            Interop.Sys.PidfdSignal(_pidfd, Interop.Sys.SIGKILL);
        }
    }

    private static void WaitExit(int pidfd, int timeoutMs)
    {
        Interop.PollFd one = new() { Fd = pidfd, Events = Interop.Sys.POLLIN };
        long deadline = Interop.Sys.MonotonicMillis() + timeoutMs;
        while (Interop.Sys.MonotonicMillis() < deadline)
        {
            if (Interop.Sys.Poll(&one, 1, (int)Math.Max(1, deadline - Interop.Sys.MonotonicMillis())) > 0)
            {
                return;
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>After Shutdown's answer: close everything; Run's loop then returns.</summary>
    private void Finish()
    {
        foreach (ClientSlot slot in _clients)
        {
            slot.Reset();
        }
        Interop.Sys.Close(_listenFd);
        _listenFd = -1;
    }

    private static ByteString Bytes(ReadOnlySpan<byte> data) => ByteString.CopyFrom(data);
}
