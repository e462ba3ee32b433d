namespace Berth.Shim.Monitor;

/// <summary>
/// A running command: its pidfd and status pipe; for ExecSync its output pipes and what has been
/// captured, for a streaming exec only its console socket until its terminal arrives (berthd holds its stdio).
/// </summary>
internal sealed class ExecSession
{
    public int Client = -1;

    /// <summary>A streaming exec: its end is answered with ExecExited, not with the captured output.</summary>
    public bool Streaming;

    /// <summary>A streaming exec with a terminal whose ExecStarted waits for the pty's master from its stage.</summary>
    public bool AwaitsTerminal;

    /// <summary>The monitor's end of the console socket the stage sends that master on (<see cref="Spawn.ConsoleSocket"/>).</summary>
    public int Console = -1;
    public int Pid;
    public int Pidfd = -1;
    public int Stdout = -1;
    public int Stderr = -1;
    public int Status = -1;
    public long Deadline = long.MaxValue;
    public bool TimedOut;
    public readonly CappedBuffer Out;
    public readonly CappedBuffer Err;

    public ExecSession(int limit)
    {
        Out = new CappedBuffer(limit);
        Err = new CappedBuffer(limit);
    }

    /// <summary>A command whose start failed part way: SIGKILL and reap it if it was spawned, close what it held.</summary>
    public void Kill()
    {
        if (Pidfd >= 0)
        {
            SendKill();
            Interop.Sys.WaitPidfd(Pidfd, block: true);
        }
        CloseAll();
    }

    /// <summary>
    /// SIGKILLs the command and its process group. The exec stage calls setsid, so the command leads a group
    /// of its own and what it started (a shell's children) is in it: killing only the command would leave
    /// `sh -c 'sleep 60; ...'`'s sleep running in the container after its session ended. The group is
    /// signalled while the command is not yet reaped, so its id cannot name another group; before the
    /// stage's setsid there is no such group (ESRCH, ignored).
    /// </summary>
    public void SendKill()
    {
        if (Pidfd < 0)
        {
            return;
        }
        if (Pid > 0)
        {
            Interop.Sys.Kill(-Pid, Interop.Sys.SIGKILL);
        }
        Interop.Sys.PidfdSignal(Pidfd, Interop.Sys.SIGKILL);
    }

    public void CloseAll()
    {
        Interop.Sys.Close(Pidfd);
        Interop.Sys.Close(Stdout);
        Interop.Sys.Close(Stderr);
        Interop.Sys.Close(Status);
        Interop.Sys.Close(Console);
        Pidfd = Stdout = Stderr = Status = Console = -1;
    }
}

/// <summary>Keeps the first <c>limit</c> bytes written to it and counts the rest as dropped.</summary>
internal sealed class CappedBuffer
{
    private readonly int _limit;
    private byte[] _data = new byte[256];

    public CappedBuffer(int limit)
    {
        _limit = limit;
    }

    public int Length { get; private set; }

    public bool Truncated { get; private set; }

    public ReadOnlySpan<byte> Data => _data.AsSpan(0, Length);

    public void Append(ReadOnlySpan<byte> bytes)
    {
        int keep = Math.Min(bytes.Length, _limit - Length);
        if (keep < bytes.Length)
        {
            Truncated = true;
        }
        if (keep <= 0)
        {
            return;
        }
        if (Length + keep > _data.Length)
        {
            Array.Resize(ref _data, Math.Min(_limit, Math.Max(_data.Length * 2, Length + keep)));
        }
        bytes[..keep].CopyTo(_data.AsSpan(Length));
        Length += keep;
    }
}
