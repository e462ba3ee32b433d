namespace Berth.RuntimeService.Runtime;

/// <summary>A streaming exec's command (CRI ExecRequest): which of its stdio streams berthd gets, or one terminal.</summary>
public sealed record ExecCommand(IReadOnlyList<string> Args, bool Tty, bool Stdin, bool Stdout, bool Stderr);

/// <summary>Which of a container's own stdio streams an attacher takes (CRI AttachRequest).</summary>
public sealed record AttachStreams(bool Stdin, bool Stdout, bool Stderr);

/// <summary>
/// The stdio of a process as berthd holds it for a streaming session: what to write its input to,
/// what to read its output from (each ends at end of file), and for a terminal how to resize it.
/// Disposing ends the session with its shim (an exec is killed if it still runs, an attacher detached)
/// and closes every stream.
/// </summary>
public abstract class ProcessStdio : IAsyncDisposable
{
    /// <summary>Writes go to the process's stdin (the terminal's input with <see cref="Terminal"/>); null when not given.</summary>
    public Stream? Stdin { get; protected init; }

    /// <summary>The process's output (the terminal's with <see cref="Terminal"/>); null when not given.</summary>
    public Stream? Stdout { get; protected init; }

    /// <summary>The process's stderr; null with a terminal or when not given.</summary>
    public Stream? Stderr { get; protected init; }

    /// <summary>Stdio is one terminal: output comes on <see cref="Stdout"/> and <see cref="Resize"/> applies.</summary>
    public bool Terminal { get; protected init; }

    /// <summary>Sets the terminal's size (the foreground process gets SIGWINCH); nothing without a terminal.</summary>
    public abstract void Resize(ushort columns, ushort rows);

    /// <summary>The client's stdin ended: the process reads end of file (exec), or the shim is told (attach, stdin_once).</summary>
    public abstract Task CloseStdinAsync();

    public abstract ValueTask DisposeAsync();
}

/// <summary>A streaming exec's process: its stdio and its end.</summary>
public abstract class ExecProcess : ProcessStdio
{
    /// <summary>
    /// The exit code (or 128 + the signal) once it ended; faults with a <see cref="Core.Errors.BerthException"/>
    /// when the command could not be run (FailedPrecondition with the shim's words) or the shim went away (Unavailable).
    /// </summary>
    public abstract Task<int> Exited { get; }
}

/// <summary>An attachment to a container's own stdio.</summary>
public abstract class Attachment : ProcessStdio
{
    /// <summary>The container was created with stdin_once: the client's stdin ending closes the container's stdin.</summary>
    public bool StdinOnce { get; protected init; }
}
