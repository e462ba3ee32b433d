namespace Berth.Api.Shim;

/// <summary>What a shim runs: a pod sandbox's namespace holder or one container.</summary>
public static class ShimKind
{
    public const string Sandbox = "sandbox";
    public const string Container = "container";
}

/// <summary>
/// The shim's own options, <c>&lt;bundle&gt;/shim.json</c>, written by berthd beside config.json
/// (the OCI spec says what to run; this says how the shim wires it to the node).
/// </summary>
public sealed record ShimOptions
{
    /// <summary><see cref="ShimKind.Sandbox"/> or <see cref="ShimKind.Container"/>.</summary>
    public string Kind { get; init; } = ShimKind.Container;

    /// <summary>The container's (or sandbox's) id, echoed in State.</summary>
    public string Id { get; init; } = "";

    public string SandboxId { get; init; } = "";

    /// <summary>Containers: the CRI log file (kubelet's log_directory + log_path). Empty: output is read and dropped.</summary>
    public string? LogPath { get; init; }

    /// <summary>
    /// Containers: the pod's log directory (kubelet's log_directory), the part of <see cref="LogPath"/>
    /// whose symbolic links are followed; below it the shim follows none, since a pod that can write
    /// there (a hostPath volume) could otherwise point the log at any file of the node.
    /// </summary>
    public string? LogDirectory { get; init; }

    /// <summary>Keep a pipe to the process's stdin (for attach); otherwise stdin is /dev/null.</summary>
    public bool Stdin { get; init; }

    public bool StdinOnce { get; init; }

    /// <summary>Give the process a pty (output is logged as stdout).</summary>
    public bool Tty { get; init; }

    /// <summary>
    /// Containers: the overlay the shim mounts at config.json's root.path inside the container's
    /// own mount namespace (so nothing stays mounted on the host). Null: root.path is used as it is.
    /// </summary>
    public RootfsLayers? Rootfs { get; init; }

    /// <summary>
    /// Sandboxes: the directory where the shim pins each namespace it creates, as a bind mount of
    /// /proc/&lt;pid&gt;/ns/&lt;kind&gt; on a file named <c>net</c>, <c>ipc</c>, <c>uts</c> or <c>pid</c>
    /// (e.g. /run/berth/ns/&lt;sandboxId&gt;/). Containers join them through config.json namespace paths.
    /// </summary>
    public string? NamespaceDir { get; init; }

    /// <summary>Where the cgroup hierarchies are mounted; default /sys/fs/cgroup.</summary>
    public string? CgroupRoot { get; init; }

    /// <summary>
    /// The node's cgroup and cgroup2 mounts as berthd read them once, at its start, from its mount table,
    /// so that neither the shim nor its init stage reads /proc/self/mountinfo to find them: that table
    /// grows with every pod (its namespace pins and /dev/shm), and reading it cost each of them about a
    /// millisecond per hundred lines on this node (README, Performance). Null: they read it themselves.
    /// </summary>
    public IReadOnlyList<Cgroups.CgroupMount>? CgroupMounts { get; init; }

    /// <summary>The exit record's path; default &lt;bundle&gt;/exit.json.</summary>
    public string? ExitFile { get; init; }

    /// <summary>
    /// The control socket; bundle/shim.sock when unset. berthd sets a short path of its own, since a
    /// unix socket path must fit in 107 bytes and bundle paths under a long state directory do not.
    /// </summary>
    public string? SocketPath { get; init; }

    /// <summary>
    /// Containers: commands run at once, ExecSync and exec sessions together, within
    /// <see cref="ExecLimits.KeptForExecSync"/> + 1 .. <see cref="ExecLimits.MaxExecs"/>; 0 means <see cref="ExecLimits.MaxExecs"/>.
    /// </summary>
    public int MaxExecs { get; init; }
}

/// <summary>How many commands a shim runs in its container at once (berthd's streaming.maxExecsPerContainer).</summary>
public static class ExecLimits
{
    /// <summary>The most, and the default: ExecSync and exec sessions together.</summary>
    public const int MaxExecs = 128;

    /// <summary>
    /// Slots exec sessions (open shells, kubectl cp) never take, so that kubelet's exec probes, which are
    /// ExecSync, still run in a container whose users hold many sessions open.
    /// </summary>
    public const int KeptForExecSync = 16;

    /// <summary>The fewest a container may be configured with: one exec session beside the kept slots.</summary>
    public const int MinExecs = KeptForExecSync + 1;
}

/// <summary>An overlay root filesystem: read-only layers (top first) under a writable upper dir.</summary>
public sealed record RootfsLayers
{
    /// <summary>Layer directories, the topmost first (overlayfs lowerdir order).</summary>
    public IReadOnlyList<string> LowerDirs { get; init; } = [];
    public string UpperDir { get; init; } = "";
    public string WorkDir { get; init; } = "";
}

/// <summary>
/// How the process ended, written by the shim to the exit file (temporary file, fsync, rename)
/// before it reports the process as exited, so berthd can learn it after the shim is gone.
/// </summary>
public sealed record ExitRecord
{
    public string Id { get; init; } = "";
    public int Pid { get; init; }
    public int ExitCode { get; init; }
    /// <summary>Unix nanoseconds.</summary>
    public long StartedAt { get; init; }
    public long FinishedAt { get; init; }
    /// <summary>"Completed", "Error", "OOMKilled", or a shim error text.</summary>
    public string Reason { get; init; } = "";
    public string? Message { get; init; }
}
