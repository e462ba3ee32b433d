using Berth.Api.Shim;
using Berth.Shim.Cgroups;
using Berth.Shim.Hooks;

namespace Berth.Shim.Monitor;

internal sealed partial class ShimMonitor
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
                Request.KindOneofCase.State => new Response { State = _process.State() },
                Request.KindOneofCase.Wait => Wait(index),
                Request.KindOneofCase.Kill => Kill(request.Kill),
                Request.KindOneofCase.ExecSync => StartExec(index, request.ExecSync),
                Request.KindOneofCase.Exec => StartStreamingExec(index, request.Exec),
                Request.KindOneofCase.Attach => Attach(index, request.Attach),
                Request.KindOneofCase.CloseStdin => CloseStdin(index),
                Request.KindOneofCase.UpdateResources => UpdateResources(request.UpdateResources),
                Request.KindOneofCase.Freeze => Freeze(request.Freeze),
                Request.KindOneofCase.ReopenLog => ReopenLog(),
                Request.KindOneofCase.Shutdown => Shutdown(),
                _ => ControlClients.Error(ErrorCode.InvalidArgument, "empty or unknown request"),
            };
        }
        catch (ShimRequestException e)
        {
            response = ControlClients.Error(e.Code, e.Message);
        }
        catch (Exception e)
        {
            ShimLog.Write($"{request.KindCase} failed: {e}");
            response = ControlClients.Error(ErrorCode.Internal, $"{request.KindCase}: {FailureText.Describe(e)}");
        }
        if (response is not null)
        {
            _clients.Send(index, response);
        }
        if (_stopping)
        {
            // After Shutdown's answer: close everything; Run's loop then returns.
            _clients.CloseAll();
        }
    }

    private Response? Wait(int index)
    {
        if (_process.Status == Status.Exited)
        {
            return new Response { State = _process.State() };
        }
        if (_process.Status == Status.Initial)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, "nothing has been created to wait for");
        }
        _clients.Defer(index, Pending.Exit);
        return null;
    }

    private Response Kill(KillRequest request)
    {
        if (request.Signal is 0 or > 64)
        {
            throw new ShimRequestException(ErrorCode.InvalidArgument, $"signal {request.Signal} is out of range");
        }
        if (_process.Status is Status.Initial)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, "nothing has been created to signal");
        }
        int signal = (int)request.Signal;
        if (request.All && _cgroup is not null)
        {
            SignalCgroup(signal);
        }
        _process.Signal(signal);
        return new Response();
    }

    /// <summary>ExecSync: runs in the container's namespaces and cgroup; the answer is deferred to the command's exit.</summary>
    private Response? StartExec(int client, ExecSyncRequest request)
    {
        RequireRunningContainer("exec");
        _execs.Start(client, request, _process.Pid, _bundle, _cgroup);
        return null;
    }

    /// <summary>CRI Exec: as ExecSync, but the stdio goes to berthd with ExecStarted; the end is answered as ExecExited.</summary>
    private Response? StartStreamingExec(int client, ExecRequest request)
    {
        RequireRunningContainer("exec");
        _execs.StartStream(client, request, _process.Pid, _bundle, _cgroup);
        return null;
    }

    /// <summary>CRI Attach: the connection becomes an attacher of the container's stdio until it closes.</summary>
    private Response? Attach(int client, AttachRequest request)
    {
        RequireRunningContainer("attach");
        var handedOver = new List<int>();
        try
        {
            Attached attached = _output.Attach(client, request, handedOver);
            _clients.SendWithDescriptors(client, new Response { Attached = attached }, handedOver.ToArray());
        }
        finally
        {
            foreach (int fd in handedOver)
            {
                Interop.Sys.Close(fd);
            }
        }
        return null;
    }

    private Response CloseStdin(int client)
    {
        _output.CloseStdin(client);
        return new Response();
    }

    private void RequireRunningContainer(string what)
    {
        if (IsSandbox)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"cannot {what} a sandbox");
        }
        if (_process.Status != Status.Running || _process.Pidfd < 0)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"cannot {what}: the container is {_process.Status}");
        }
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
            throw new ShimRequestException(ErrorCode.InvalidArgument, $"resources: {FailureText.Describe(e)}");
        }
        try
        {
            _cgroup.Update(resources);
        }
        catch (InvalidSpecException e)
        {
            throw new ShimRequestException(ErrorCode.InvalidArgument, $"updating cgroup {_cgroup.Path}: {e.Message}");
        }
        catch (Exception e) when (e is CgroupUnsupportedException or CgroupWriteException)
        {
            // The node cannot give what was asked (no controller, or the kernel refused the value, as a
            // limit below current usage): the request does not fit the container's state.
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"updating cgroup {_cgroup.Path}: {e.Message}");
        }
        catch (IOException e)
        {
            throw new ShimRequestException(ErrorCode.Internal, $"updating cgroup {_cgroup.Path}: {FailureText.Describe(e)}");
        }
        return new Response();
    }

    /// <summary>
    /// Freezes or thaws the container's cgroup (berthctl commit reads the writable layer meanwhile). The bounded wait
    /// runs in the loop: at most <see cref="FreezerWait.DefaultBound"/>, and only on an operator's request.
    /// </summary>
    private Response Freeze(FreezeRequest request)
    {
        if (_cgroup is null)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, "the container has no cgroup (no cgroupsPath, or not created)");
        }
        try
        {
            _cgroup.SetFrozen(request.Frozen, FreezerWait.DefaultBound);
        }
        catch (CgroupException e)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"{(request.Frozen ? "freezing" : "thawing")} cgroup {_cgroup.Path}: {e.Message}");
        }
        catch (IOException e)
        {
            throw new ShimRequestException(ErrorCode.Internal, $"{(request.Frozen ? "freezing" : "thawing")} cgroup {_cgroup.Path}: {FailureText.Describe(e)}");
        }
        return new Response();
    }

    private Response ReopenLog()
    {
        try
        {
            _output.ReopenLog();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ShimRequestException(ErrorCode.Internal, $"reopening {_options?.LogPath}: {FailureText.Describe(e)}");
        }
        return new Response();
    }

    /// <summary>Kills what is left, waits for it, removes the cgroup, the pins and the socket; the loop then ends.</summary>
    private Response Shutdown()
    {
        var problems = new List<string>();
        if (_process.Pidfd >= 0)
        {
            try
            {
                if (_cgroup is not null)
                {
                    SignalCgroup(Interop.Sys.SIGKILL);
                }
                _process.Signal(Interop.Sys.SIGKILL);
                PollSet.WaitReadable(_process.Pidfd, 10_000);
                if (_process.TryReap() is { } exit)
                {
                    RecordExit(exit.ExitCode, null);
                }
                else
                {
                    problems.Add($"process {_process.Pid} did not exit after SIGKILL");
                }
            }
            catch (IOException e)
            {
                problems.Add(FailureText.Describe(e));
            }
        }
        _execs.StopAll();
        _output.CloseStreams();
        _pins.Unpin(problems);
        if (_cgroup is not null)
        {
            try
            {
                for (int attempt = 0; attempt < 50 && _cgroup.Processes().Count > 0; attempt++)
                {
                    SignalCgroup(Interop.Sys.SIGKILL);
                    Thread.Sleep(20);
                }
                _cgroup.Delete();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problems.Add($"deleting cgroup {_cgroup.Path}: {FailureText.Describe(e)}");
            }
        }
        if (_spec?.Hooks?.Poststop is { Count: > 0 } poststop && _process.Pid > 0)
        {
            try
            {
                HookRunner.RunAll("poststop", poststop, HookRunner.State(_spec, Id, _bundle, "stopped", null));
            }
            catch (HookFailedException e)
            {
                // The runtime spec: a poststop hook's failure is logged, and the deletion goes on.
                ShimLog.Write($"warning: {e.Message}");
            }
        }
        TryDelete(_socketPath);
        TryDelete(BundleLayout.PidPath(_bundle));
        _stopping = true;
        ShimLog.Write(problems.Count == 0 ? "shut down" : "shut down with problems: " + string.Join("; ", problems));
        return problems.Count == 0 ? new Response() : ControlClients.Error(ErrorCode.Internal, string.Join("; ", problems));
    }

    /// <summary>Sends <paramref name="signal"/> to every process of the container's cgroup (SIGKILL through cgroup.kill where it exists).</summary>
    private void SignalCgroup(int signal)
    {
        if (signal == Interop.Sys.SIGKILL && _cgroup!.TryKillAll())
        {
            return;
        }
        foreach (int pid in _cgroup!.Processes())
        {
            Interop.Sys.Kill(pid, signal);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            ShimFiles.Delete(path);
        }
        catch (ErrnoException)
        {
        }
    }
}
