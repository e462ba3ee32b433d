using Berth.Api.Shim;
using Berth.Shim.Cgroups;
using Berth.Shim.Logging;
using Berth.Shim.Spawn;

namespace Berth.Shim.Monitor;

internal sealed unsafe partial class ShimMonitor
{
    /// <summary>How long the init or pause stage may take to set up before Create gives up.</summary>
    private const int StageTimeoutMs = 60_000;

    private Response Create()
    {
        if (_status != Status.Initial)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"already created ({_status})");
        }
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
                var manager = CgroupManagerFactory.Detect(options.CgroupRoot);
                _cgroup = manager.Create(spec.Linux.CgroupsPath, spec.Linux.Resources);
                _oomBaseline = _cgroup.OomKillCount();
            }

            var (statusRead, statusWrite) = Interop.Sys.Pipe();
            _statusFd = statusRead;
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
                SetUpStdio(spec, options, descriptors, toClose);
                var (gateRead, gateWrite) = Interop.Sys.Pipe();
                _gateFd = gateWrite;
                toClose.Add(gateRead);
                descriptors.Add((4, gateRead));
                arguments = ["berth-shim", "init", _bundle];
            }
            descriptors.Add((StageReport.StatusFd, statusWrite));

            _pid = NamespaceSpawner.Spawn(new SpawnPlan
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
            _pidfd = Interop.Sys.PidfdOpen(_pid);
            _cgroup?.AddProcess(_pid);

            StageResult result = StageReport.Receive(_statusFd, _pidfd, StageTimeoutMs);
            if (result.Outcome != StageOutcome.Ready)
            {
                string why = result.Outcome switch
                {
                    StageOutcome.Failed => result.Message,
                    StageOutcome.TimedOut => $"the {arguments[1]} stage did not get ready within {StageTimeoutMs / 1000} s",
                    _ => $"the {arguments[1]} stage exited before it was ready",
                };
                FailCreate(why);
                throw new ShimRequestException(ErrorCode.CreateFailed, why);
            }
            _createdAt = Interop.Sys.RealtimeNanos();
            if (IsSandbox)
            {
                Interop.Sys.Close(_statusFd);
                _statusFd = -1;
                PinNamespaces(options, created);
                _startedAt = _createdAt;
                _status = Status.Running;
            }
            else
            {
                _status = Status.Created;
            }
            ShimLog.Write($"created {options.Kind} {Id}: pid {_pid}");
            return new Response { State = CurrentState() };
        }
        catch (ShimRequestException)
        {
            throw;
        }
        catch (Exception e)
        {
            string why = e.Message;
            FailCreate(why);
            throw new ShimRequestException(ErrorCode.CreateFailed, why);
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
    private void FailCreate(string why)
    {
        ShimLog.Write($"create failed: {why}");
        if (_pidfd >= 0)
        {
            Interop.Sys.PidfdSignal(_pidfd, Interop.Sys.SIGKILL);
            Interop.Sys.WaitPidfd(_pidfd, block: true);
        }
        if (_status == Status.Initial)
        {
            RecordExit(128 + Interop.Sys.SIGKILL, why);
        }
        var problems = new List<string>();
        UnpinNamespaces(problems);
        try
        {
            _cgroup?.Delete();
        }
        catch (IOException e)
        {
            ShimLog.Write($"deleting the cgroup after a failed create: {e.Message}");
        }
    }

    /// <summary>Pipes (or a pty) for the container's stdio; the shim keeps the reading ends and the log.</summary>
    private void SetUpStdio(OciSpec spec, ShimOptions options, List<(int Child, int Parent)> descriptors, List<int> toClose)
    {
        _log = new CriLogFile(options.LogPath);
        bool tty = options.Tty || spec.Process?.Terminal == true;
        if (tty)
        {
            var (master, slave) = Interop.Sys.OpenPty();
            toClose.Add(slave);
            if (spec.Process?.ConsoleSize is { } size && size.Height > 0 && size.Width > 0)
            {
                Interop.Sys.SetWindowSize(master, (ushort)size.Height, (ushort)size.Width);
            }
            Interop.Sys.SetNonBlocking(master, true);
            _stdoutFd = master;
            descriptors.Add((0, slave));
            descriptors.Add((1, slave));
            descriptors.Add((2, slave));
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
        Interop.Sys.TrySetPipeSize(outRead, 256 * 1024);
        Interop.Sys.TrySetPipeSize(errRead, 256 * 1024);
        _stdoutFd = outRead;
        _stderrFd = errRead;
        toClose.Add(outWrite);
        toClose.Add(errWrite);
        descriptors.Add((1, outWrite));
        descriptors.Add((2, errWrite));
    }

    private Response Start()
    {
        if (IsSandbox && _status == Status.Running)
        {
            return new Response { State = CurrentState() };
        }
        if (_status != Status.Created)
        {
            throw new ShimRequestException(ErrorCode.FailedPrecondition, $"cannot start: the container is {_status}");
        }
        Interop.Sys.WriteAll(_gateFd, [1]);
        Interop.Sys.Close(_gateFd);
        _gateFd = -1;
        StageResult result = StageReport.Receive(_statusFd, -1, 10_000);
        Interop.Sys.Close(_statusFd);
        _statusFd = -1;
        switch (result.Outcome)
        {
            case StageOutcome.Closed:
                _startedAt = Interop.Sys.RealtimeNanos();
                if (_status == Status.Created)
                {
                    _status = Status.Running;
                }
                ShimLog.Write($"started {Id}");
                return new Response { State = CurrentState() };
            case StageOutcome.Failed:
                _message = result.Message;
                throw new ShimRequestException(ErrorCode.CreateFailed, result.Message);
            default:
                throw new ShimRequestException(ErrorCode.Internal, "the init stage did not exec within 10 s");
        }
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

    /// <summary>Bind-mounts /proc/&lt;pid&gt;/ns/&lt;kind&gt; on a file in the pin directory for each namespace the sandbox created.</summary>
    private void PinNamespaces(ShimOptions options, List<string> created)
    {
        if (string.IsNullOrEmpty(options.NamespaceDir))
        {
            return;
        }
        Directory.CreateDirectory(options.NamespaceDir);
        foreach (string type in created)
        {
            if (NamespacePins.FileName(type) is not { } name)
            {
                continue;
            }
            string target = NamespacePins.PathOf(options.NamespaceDir, type);
            using (File.Open(target, FileMode.OpenOrCreate, FileAccess.Write))
            {
            }
            Interop.Sys.Mount($"/proc/{_pid}/ns/{name}", target, null, Interop.Sys.MS_BIND, null);
            _pins.Add(target);
        }
    }

    private void UnpinNamespaces(List<string> problems)
    {
        foreach (string pin in _pins)
        {
            try
            {
                while (Interop.Sys.Unmount(pin, Interop.Sys.MNT_DETACH))
                {
                }
                File.Delete(pin);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problems.Add($"unpinning {pin}: {e.Message}");
            }
        }
        _pins.Clear();
        if (_options?.NamespaceDir is { Length: > 0 } dir)
        {
            try
            {
                if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
                {
                    Directory.Delete(dir);
                }
            }
            catch (IOException)
            {
            }
        }
    }
}
