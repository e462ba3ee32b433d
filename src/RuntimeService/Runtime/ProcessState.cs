using Berth.Api.Shim;

namespace Berth.RuntimeService.Runtime;

/// <summary>Where a container's (or a sandbox reaper's) process is in its life; the order is the only order it moves in.</summary>
public enum ProcessStatus
{
    /// <summary>berthd has recorded it; its shim has not finished setting it up.</summary>
    Creating = 0,

    /// <summary>Set up and waiting for Start (runc create).</summary>
    Created = 1,

    Running = 2,

    /// <summary>Final: exited, killed, failed to set up, or lost.</summary>
    Exited = 3,
}

/// <summary>A process's identity as the kernel reports it: effective uid and gid, and supplementary groups.</summary>
public sealed record ProcessUser(uint Uid, uint Gid, IReadOnlyList<uint> Groups);

/// <summary>
/// A process's state as its shim reported it, or as berthd inferred it when the shim could not say.
/// Times are Unix nanoseconds (0 when not reached); <see cref="ExitCode"/> is the status or 128 + the
/// signal; <see cref="Reason"/> is CRI's ("Completed", "Error", "OOMKilled", "Unknown"); <see cref="User"/>
/// the identity of a container's process once set up (null when the shim did not say).
/// </summary>
public sealed record ProcessState(
    ProcessStatus Status,
    int Pid = 0,
    int ExitCode = 0,
    long StartedAt = 0,
    long FinishedAt = 0,
    string Reason = "",
    string Message = "",
    ProcessUser? User = null)
{
    public static ProcessState Creating { get; } = new(ProcessStatus.Creating);

    /// <summary>The shim's own answer (Create, Start, State, Wait).</summary>
    public static ProcessState FromShim(StateResponse state) => new(
        state.Status switch
        {
            Api.Shim.Status.Created => ProcessStatus.Created,
            Api.Shim.Status.Running => ProcessStatus.Running,
            Api.Shim.Status.Exited => ProcessStatus.Exited,
            _ => ProcessStatus.Creating,
        },
        state.Pid, state.ExitCode, state.StartedAt, state.FinishedAt, state.Reason, state.Message,
        state.User is { } user ? new ProcessUser(user.Uid, user.Gid, [.. user.Groups]) : null);

    /// <summary>The exit a shim wrote to the bundle (exit.json) before it went away.</summary>
    public static ProcessState FromExitRecord(ExitRecord exit) =>
        new(ProcessStatus.Exited, exit.Pid, exit.ExitCode, exit.StartedAt, exit.FinishedAt, exit.Reason, exit.Message ?? "");

    /// <summary>
    /// The process's shim is gone without a word (killed, or lost to a reboot) and left no exit record:
    /// it is reported exited with code 255 and reason Unknown, as containerd reports a lost task.
    /// </summary>
    public ProcessState Lost(long now, string message) =>
        new(ProcessStatus.Exited, Pid, 255, StartedAt, now, "Unknown", message, User);
}
