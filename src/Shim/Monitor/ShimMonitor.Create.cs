using Berth.Api.Shim;
using Berth.Shim.Cgroups;
using Berth.Shim.Hooks;
using Berth.Shim.Spawn;

namespace Berth.Shim.Monitor;

internal sealed partial class ShimMonitor
{
    /// <summary>How long the init or pause stage may take to set up before Create gives up.</summary>
    private const int StageTimeoutMs = 60_000;

    private Response Create()
    {
        if (_process.Status != Status.Initial)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"already created ({_process.Status})");
        }
        _clock.Mark("shim.await_create");
        OciSpec spec = _spec!;
        ShimOptions options = _options!;
        var joins = new List<NamespaceJoin>();
        var toClose = new List<int>();
        try
        {
            int unshare = 0;
            var created = new List<string>();
            foreach (LinuxNamespace ns in spec.Linux?.Namespaces ?? [])
            {
                int flag = CloneFlag(ns.Type);
                if (flag == 0)
                {
                    continue;
                }
                if (string.IsNullOrEmpty(ns.Path))
                {
                    unshare |= flag;
                    created.Add(ns.Type);
                }
                else
                {
                    if (flag == Interop.Sys.CLONE_NEWNS)
                    {
                        throw new ShimRequestException(ErrorCode.InvalidArgument, "joining another mount namespace is not supported");
                    }
                    int fd = Interop.Sys.Open(ns.Path, Interop.Sys.O_RDONLY);
                    toClose.Add(fd);
                    joins.Add(new NamespaceJoin(fd, flag, $"{ns.Type} {ns.Path}"));
                }
            }
            if (!IsSandbox)
            {
                // The rootfs is mounted inside the container's own mount namespace, always.
                unshare |= Interop.Sys.CLONE_NEWNS;
            }

            if (!string.IsNullOrEmpty(spec.Linux?.CgroupsPath))
            {
                var manager = CgroupManagerFactory.Detect(options.CgroupRoot, options.CgroupMounts);
                _cgroup = manager.Create(spec.Linux.CgroupsPath, spec.Linux.Resources);
                _oomBaseline = _cgroup.OomKillCount();
            }
            _clock.Mark("shim.cgroup");

            int statusWrite = _process.OpenStatusPipe();
            toClose.Add(statusWrite);
            var descriptors = new List<(int Child, int Parent)>();
            string[] arguments;
            int[] blocked = [];
            if (IsSandbox)
            {
                int devNull = Interop.Sys.Open("/dev/null", Interop.Sys.O_RDWR);
                toClose.Add(devNull);
                descriptors.Add((0, devNull));
                descriptors.Add((1, devNull));
                descriptors.Add((2, 2));
                arguments = ["berth-shim", "pause", _bundle];
                blocked = [Interop.Sys.SIGCHLD, Interop.Sys.SIGTERM, Interop.Sys.SIGINT, Interop.Sys.SIGHUP];
            }
            else
            {
                _output.SetUp(spec, options, descriptors, toClose);
                int gateRead = _process.OpenGate();
                toClose.Add(gateRead);
                descriptors.Add((Init.ContainerInit.GateFd, gateRead));
                arguments = ["berth-shim", "init", _bundle];
            }
            descriptors.Add((StageReport.StatusFd, statusWrite));

            int pid = NamespaceSpawner.Spawn(new SpawnPlan
            {
                Arguments = arguments,
                Descriptors = [.. descriptors],
                Join = joins,
                Unshare = unshare,
                BlockedSignals = blocked,
            });
            foreach (int fd in toClose)
            {
                Interop.Sys.Close(fd);
            }
            toClose.Clear();
            _process.Spawned(pid);
            _cgroup?.AddProcess(pid);
            _clock.Mark("shim.spawn");

            StageResult result = _process.AwaitStage(StageTimeoutMs);
            if (result.Outcome == StageOutcome.HooksDue)
            {
                // The container's mounts are made, its root not yet pivoted: runc's point for these, in our namespaces.
                var hookState = HookRunner.State(spec, Id, _bundle, "creating", pid);
                HookRunner.RunAll("prestart", spec.Hooks?.Prestart, hookState);
                HookRunner.RunAll("createRuntime", spec.Hooks?.CreateRuntime, hookState);
                _process.ContinueAfterHooks();
                result = _process.AwaitStage(StageTimeoutMs);
            }
            if (result.Outcome != StageOutcome.Ready)
            {
                string why = result.Outcome switch
                {
                    StageOutcome.Failed => result.Message,
                    StageOutcome.TimedOut => $"the {arguments[1]} stage did not get ready within {StageTimeoutMs / 1000} s",
                    _ when OomKilledSinceCreate() => $"the {arguments[1]} stage was killed by the kernel's OOM killer before it was ready: "
                        + $"the memory limit ({_spec?.Linux?.Resources?.Memory?.Limit} bytes) is too low to set the container up",
                    _ => StageEndedUnreported(arguments[1]),
                };
                FailCreate(why);
                throw new ShimRequestException(ErrorCode.CreateFailed, why);
            }
            _clock.Mark("shim.stage");
            _output.ReceiveTerminal();
            if (IsSandbox)
            {
                // Pinned before the sandbox counts as created: a pin that fails fails the Create.
                _pins.Pin(pid, created);
                _clock.Mark("shim.pin");
            }
            _process.Created(IsSandbox);
            ShimLog.Write($"created {options.Kind} {Id}: pid {pid}");
            var state = _process.State();
            _clock.MoveTo(state);
            return new Response { State = state };
        }
        catch (ShimRequestException)
        {
            throw;
        }
        catch (HookFailedException e)
        {
            FailCreate(e.Message);
            throw new ShimRequestException(ErrorCode.CreateFailed, e.Message);
        }
        catch (Exception e)
        {
            string why = FailureText.Describe(e);
            FailCreate(why);
            // The same fault gets the same code here as in UpdateResources: a spec no node could run is
            // the request's fault; everything else (a controller the node lacks included) is the node's.
            throw new ShimRequestException(e is InvalidSpecException ? ErrorCode.InvalidArgument : ErrorCode.CreateFailed, why);
        }
        finally
        {
            foreach (int fd in toClose)
            {
                Interop.Sys.Close(fd);
            }
        }
    }

    /// <summary>Create failed part-way: kill and reap the stage, drop what was made, and say so in State and the exit file.</summary>
    /// <summary>
    /// Why a stage that sent neither ready nor an error ended: how it ended, and, where the container has a
    /// seccomp filter, that the filter is the likely cause: loaded before the last set-up steps (while
    /// the stage still has its privileges), it also blocks what they call, the report to the shim included.
    /// </summary>
    private string StageEndedUnreported(string stage)
    {
        string how = _process.PeekExit() switch
        {
            { Signaled: true } exit => $"was killed by signal {exit.Status}",
            { } exit => $"exited with status {exit.Status}",
            null => "exited",
        };
        return !_filtered
            ? $"the {stage} stage {how} before it was ready"
            : $"the {stage} stage {how} before it was ready: the container's seccomp profile blocks a system call its set-up needs";
    }

    private void FailCreate(string why)
    {
        ShimLog.Write($"create failed: {why}");
        _process.KillAndReap();
        if (_process.Status == Status.Initial)
        {
            RecordExit(128 + Interop.Sys.SIGKILL, why);
        }
        _pins.Unpin([]);
        try
        {
            _cgroup?.Delete();
        }
        catch (IOException e)
        {
            ShimLog.Write($"deleting the cgroup after a failed create: {FailureText.Describe(e)}");
        }
    }

    private Response Start()
    {
        if (IsSandbox && _process.Status == Status.Running)
        {
            return new Response { State = _process.State() };
        }
        if (_process.Status != Status.Created)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"cannot start: the container is {_process.Status}");
        }
        _process.Start();
        if (_spec?.Hooks?.Poststart is { Count: > 0 } poststart)
        {
            try
            {
                HookRunner.RunAll("poststart", poststart, HookRunner.State(_spec, Id, _bundle, "running", _process.Pid));
            }
            catch (HookFailedException e)
            {
                // As runc: a failed poststart hook ends the container and fails the start.
                ShimLog.Write($"start failed: {e.Message}");
                _process.Signal(Interop.Sys.SIGKILL);
                throw new ShimRequestException(ErrorCode.CreateFailed, e.Message);
            }
        }
        ShimLog.Write($"started {Id}");
        return new Response { State = _process.State() };
    }

    private static int CloneFlag(string type) => type switch
    {
        LinuxNamespaceType.Pid => Interop.Sys.CLONE_NEWPID,
        LinuxNamespaceType.Network => Interop.Sys.CLONE_NEWNET,
        LinuxNamespaceType.Mount => Interop.Sys.CLONE_NEWNS,
        LinuxNamespaceType.Ipc => Interop.Sys.CLONE_NEWIPC,
        LinuxNamespaceType.Uts => Interop.Sys.CLONE_NEWUTS,
        LinuxNamespaceType.Cgroup => Interop.Sys.CLONE_NEWCGROUP,
        LinuxNamespaceType.User => throw new ShimRequestException(ErrorCode.InvalidArgument,
            "user namespaces are not supported (unshare(CLONE_NEWUSER) fails in a multithreaded process)"),
        _ => throw new ShimRequestException(ErrorCode.InvalidArgument, $"unsupported namespace type {type}"),
    };
}
