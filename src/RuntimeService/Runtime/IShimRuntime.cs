using Berth.Api.Shim;

namespace Berth.RuntimeService.Runtime;

/// <summary>One shim as berthd addresses it: the sandbox's or container's ID, its bundle and its control socket.</summary>
public sealed record ShimTarget(string Id, string Bundle, string SocketPath);

/// <summary>A command for ExecSync: <see cref="Timeout"/> null means none; output is kept up to <see cref="OutputLimit"/> bytes per stream.</summary>
public sealed record ExecSyncCommand(IReadOnlyList<string> Args, TimeSpan? Timeout, int OutputLimit);

/// <summary>What an ExecSync command did: its exit code and captured output; <see cref="TimedOut"/> when it was killed at its timeout.</summary>
public sealed record ExecSyncResult(int ExitCode, ReadOnlyMemory<byte> Stdout, ReadOnlyMemory<byte> Stderr, bool TimedOut);

/// <summary>
/// The narrow interface through which the managers run processes on the node, as CRI-O's
/// internal/oci.RuntimeImpl: one shim per sandbox or container, addressed by <see cref="ShimTarget"/>.
/// Connections, the shim binary and the control protocol stay behind it, so the managers can be
/// tested with a fake. Failures are <see cref="Core.Errors.BerthException"/>s: FailedPrecondition
/// when the shim refuses a request for the process's state or the process cannot be set up,
/// InvalidArgument for a request the shim cannot carry out, Unavailable when the shim is gone.
/// </summary>
public interface IShimRuntime
{
    /// <summary>Starts the target's shim on its bundle (config.json and shim.json written) and has it set the process up, stopped before exec.</summary>
    Task<ProcessState> CreateAsync(ShimTarget target, CancellationToken cancellationToken);

    /// <summary>Lets a created process exec its command (runc start).</summary>
    Task<ProcessState> StartAsync(ShimTarget target, CancellationToken cancellationToken);

    /// <summary>The process's state as its shim tells it now; null when no shim answers (it is gone, or the node rebooted).</summary>
    Task<ProcessState?> TryGetStateAsync(ShimTarget target, CancellationToken cancellationToken);

    /// <summary>
    /// Completes when the process has exited, with its final state; null when the shim went away
    /// without answering (killed). A long poll: berthd's exit watchers keep one open per shim.
    /// </summary>
    Task<ProcessState?> WaitAsync(ShimTarget target, CancellationToken cancellationToken);

    /// <summary>Sends a signal to the process, or with <paramref name="all"/> to every process of its cgroup; nothing when it has exited.</summary>
    Task SignalAsync(ShimTarget target, int signal, bool all, CancellationToken cancellationToken);

    /// <summary>Runs a command in the running process's namespaces and cgroup and collects its output.</summary>
    Task<ExecSyncResult> ExecSyncAsync(ShimTarget target, ExecSyncCommand command, CancellationToken cancellationToken);

    /// <summary>
    /// Starts a command in the running process's namespaces and cgroup for a streaming session (CRI Exec):
    /// its stdio comes back as streams, its end as <see cref="ExecProcess.Exited"/>; disposing it kills the
    /// command if it still runs.
    /// </summary>
    Task<ExecProcess> ExecAsync(ShimTarget target, ExecCommand command, CancellationToken cancellationToken);

    /// <summary>Joins the running process's own stdio (CRI Attach) until the attachment is disposed; its output still goes to the log.</summary>
    Task<Attachment> AttachAsync(ShimTarget target, AttachStreams streams, CancellationToken cancellationToken);

    /// <summary>Applies new cgroup limits to the running or created process.</summary>
    Task UpdateResourcesAsync(ShimTarget target, LinuxResources resources, CancellationToken cancellationToken);

    /// <summary>Freezes (<paramref name="frozen"/> true) or thaws every process of the container's cgroup, once the state settled.</summary>
    /// <exception cref="Berth.Core.Errors.BerthException">FailedPrecondition: no freezer, or a freeze that did not settle (the cgroup is thawed again).</exception>
    Task FreezeAsync(ShimTarget target, bool frozen, CancellationToken cancellationToken);

    /// <summary>Reopens the CRI log at its path (kubelet renamed the file to rotate it).</summary>
    Task ReopenLogAsync(ShimTarget target, CancellationToken cancellationToken);

    /// <summary>
    /// Kills what is left of the process, has the shim remove its cgroup and namespace pins and exit,
    /// and removes its control socket. Idempotent: a shim already gone (even one killed with SIGKILL)
    /// only has its socket removed.
    /// </summary>
    Task ShutdownAsync(ShimTarget target, CancellationToken cancellationToken);

    /// <summary>The exit the shim recorded in the bundle before it went away (exit.json); null when there is none.</summary>
    ProcessState? RecordedExit(ShimTarget target);
}
