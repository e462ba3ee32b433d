using Berth.Api.Shim;
using Berth.Shim.Spawn;

namespace Berth.Shim.Monitor;

/// <summary>
/// The container's (or sandbox's) first process, as the monitor's reaper sees it (conmon-rs's
/// child_reaper): its pid and pidfd, the stage's status pipe and the start gate, the lifecycle
/// status and times, and how it ended, recorded durably in the exit file before anyone is told.
/// </summary>
internal sealed class ChildProcess
{
    /// <summary>How long Start waits for the init stage's execve to be confirmed (its status pipe closing).</summary>
    private const int ExecTimeoutMs = 10_000;

    private readonly string _id;
    private readonly string _exitPath;
    private int _statusFd = -1;
    private int _gateFd = -1;
    private long _createdAt;
    private long _startedAt;
    private long _finishedAt;
    private int _exitCode;
    private string _reason = "";
    private string _message = "";
    private ProcessUser? _user;

    /// <param name="id">The container's or sandbox's id, echoed in State and the exit record.</param>
    /// <param name="exitPath">Where the exit record goes (<see cref="BundleLayout.ExitPath"/>).</param>
    public ChildProcess(string id, string exitPath)
    {
        _id = id;
        _exitPath = exitPath;
    }

    public Status Status { get; private set; } = Status.Initial;

    /// <summary>The process's pid in the shim's pid namespace; 0 before it is spawned.</summary>
    public int Pid { get; private set; }

    /// <summary>The pidfd, watched by the loop until the process is reaped; -1 before and after.</summary>
    public int Pidfd { get; private set; } = -1;

    /// <summary>A pipe the stage reports on (<see cref="StageReport"/>); returns the stage's (writing) end, which the caller hands over and closes.</summary>
    public int OpenStatusPipe()
    {
        var (read, write) = Interop.Sys.Pipe();
        _statusFd = read;
        return write;
    }

    /// <summary>The init stage's start gate; returns the stage's (reading) end, which the caller hands over and closes.</summary>
    public int OpenGate()
    {
        var (read, write) = Interop.Sys.Pipe();
        _gateFd = write;
        return read;
    }

    /// <summary>Takes charge of the spawned stage: opens its pidfd, which the loop then watches.</summary>
    public void Spawned(int pid)
    {
        Pid = pid;
        Pidfd = Interop.Sys.PidfdOpen(pid);
    }

    /// <summary>Waits (blocking, up to <paramref name="timeoutMs"/>) for the stage to report ready or failed, or to die.</summary>
    public StageResult AwaitStage(int timeoutMs) => StageReport.Receive(_statusFd, Pidfd, timeoutMs);

    /// <summary>Lets an init stage that reported <see cref="StageOutcome.HooksDue"/> go on (one byte on its gate).</summary>
    public void ContinueAfterHooks() => Interop.Sys.WriteAll(_gateFd, [1]);

    /// <summary>The stage is ready: a sandbox's reaper runs from now on; a container waits for Start.</summary>
    public void Created(bool sandbox)
    {
        _createdAt = Interop.Sys.RealtimeNanos();
        if (sandbox)
        {
            CloseStatusPipe();
            _startedAt = _createdAt;
            Status = Status.Running;
        }
        else
        {
            // Set up and blocked before exec: its identity is final, and the same after exec.
            _user = ProcessIdentity.Read(Pid);
            Status = Status.Created;
        }
    }

    /// <summary>
    /// Opens the start gate and waits for the init stage's execve: its status pipe closes on
    /// exec (close-on-exec), or carries the error that stopped it.
    /// </summary>
    /// <exception cref="ShimRequestException">CreateFailed with the stage's message, or Internal when it did not exec in time.</exception>
    public void Start()
    {
        Interop.Sys.WriteAll(_gateFd, [1]);
        Interop.Sys.Close(_gateFd);
        _gateFd = -1;
        StageResult result = StageReport.Receive(_statusFd, -1, ExecTimeoutMs);
        CloseStatusPipe();
        switch (result.Outcome)
        {
            case StageOutcome.Closed:
                _startedAt = Interop.Sys.RealtimeNanos();
                if (Status == Status.Created)
                {
                    Status = Status.Running;
                }
                return;
            case StageOutcome.Failed:
                _message = result.Message;
                throw new ShimRequestException(ErrorCode.CreateFailed, result.Message);
            default:
                throw new ShimRequestException(ErrorCode.Internal, $"the init stage did not exec within {ExecTimeoutMs / 1000} s");
        }
    }

    /// <summary>Sends <paramref name="signal"/> through the pidfd, if the process is not reaped yet.</summary>
    public void Signal(int signal)
    {
        if (Pidfd >= 0)
        {
            Interop.Sys.PidfdSignal(Pidfd, signal);
        }
    }

    /// <summary>Reaps the process if it has exited; null while it runs.</summary>
    public Interop.ChildExit? TryReap() => Interop.Sys.WaitPidfd(Pidfd, block: false);

    /// <summary>How the process ended, if it has, without reaping it (that stays with <see cref="TryReap"/> and <see cref="KillAndReap"/>).</summary>
    public Interop.ChildExit? PeekExit() => Pidfd >= 0 ? Interop.Sys.WaitPidfd(Pidfd, block: false, keep: true) : null;

    /// <summary>A stage that failed during Create: SIGKILL and reap it at once.</summary>
    public void KillAndReap()
    {
        if (Pidfd >= 0)
        {
            Interop.Sys.PidfdSignal(Pidfd, Interop.Sys.SIGKILL);
            Interop.Sys.WaitPidfd(Pidfd, block: true);
        }
    }

    /// <summary>The process is gone (reaped, or never started): drop its descriptors, so the loop stops watching it.</summary>
    public void Release()
    {
        Interop.Sys.Close(Pidfd);
        Pidfd = -1;
        Interop.Sys.Close(_gateFd);
        _gateFd = -1;
        CloseStatusPipe();
    }

    /// <summary>
    /// Records the end: exit code (the status, or 128 + signal), reason ("Error" with
    /// <paramref name="failure"/> as the message when the shim gave up on it, else "OOMKilled",
    /// "Completed" or "Error"), written atomically to the exit file before the status says Exited.
    /// </summary>
    public void Exited(int exitCode, string? failure, bool oomKilled)
    {
        _finishedAt = Interop.Sys.RealtimeNanos();
        _exitCode = exitCode;
        if (failure is not null)
        {
            _reason = "Error";
            _message = failure;
        }
        else if (oomKilled)
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
                Id = _id,
                Pid = Pid,
                ExitCode = _exitCode,
                StartedAt = _startedAt,
                FinishedAt = _finishedAt,
                Reason = _reason,
                Message = _message.Length > 0 ? _message : null,
            }));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ShimLog.Write($"writing the exit file {_exitPath}: {FailureText.Describe(e)}");
        }
        Status = Status.Exited;
        ShimLog.Write($"process {Pid} exited: code {_exitCode}, {_reason}");
    }

    public StateResponse State() => new()
    {
        Id = _id,
        Status = Status,
        Pid = Pid,
        ExitCode = _exitCode,
        CreatedAt = _createdAt,
        StartedAt = _startedAt,
        FinishedAt = _finishedAt,
        Reason = _reason,
        Message = _message,
        User = _user,
    };

    private void CloseStatusPipe()
    {
        Interop.Sys.Close(_statusFd);
        _statusFd = -1;
    }
}
