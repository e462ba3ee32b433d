using System.Text;

namespace Berth.Shim.Spawn;

/// <summary>
/// The one-way report a stage (init, exec, pause) sends the monitor over its status pipe: the byte
/// 'R' once set up, or 'E' and a message when it failed. The init stage keeps the pipe open
/// (close-on-exec) after 'R', so end of file then means its execve succeeded. An init stage whose container
/// has createRuntime (or prestart) hooks first sends 'H' once its mounts are made and waits on its gate for the
/// monitor to run them (runc's procHooks).
/// </summary>
internal static class StageReport
{
    public const byte Ready = (byte)'R';
    public const byte Error = (byte)'E';
    public const byte Hooks = (byte)'H';

    /// <summary>The stage's side: descriptor 3 in every stage.</summary>
    public const int StatusFd = 3;

    public static void SendReady(int fd) => Interop.Sys.WriteAll(fd, [Ready]);

    public static void SendHooks(int fd) => Interop.Sys.WriteAll(fd, [Hooks]);

    public static void SendError(int fd, string message)
    {
        byte[] text = Encoding.UTF8.GetBytes(message);
        byte[] frame = new byte[1 + Math.Min(text.Length, 60000)];
        frame[0] = Error;
        text.AsSpan(0, frame.Length - 1).CopyTo(frame.AsSpan(1));
        try
        {
            Interop.Sys.WriteAll(fd, frame);
        }
        catch (ErrnoException)
        {
            // The monitor is gone; nobody is left to tell.
        }
    }

    /// <summary>The monitor's side: what the stage said, read until 'R' or end of file (blocking, with a deadline).</summary>
    public static StageResult Receive(int fd, int pidfd, int timeoutMs)
    {
        var collected = new List<byte>();
        Span<byte> buffer = stackalloc byte[4096];
        long deadline = Interop.Sys.MonotonicMillis() + timeoutMs;
        Interop.Sys.SetNonBlocking(fd, true);
        while (true)
        {
            int n = Interop.Sys.Read(fd, buffer);
            if (n > 0)
            {
                collected.AddRange(buffer[..n]);
                if (collected.Count == 1 && collected[0] is Ready or Hooks)
                {
                    return new StageResult(collected[0] == Ready ? StageOutcome.Ready : StageOutcome.HooksDue, "");
                }
                continue;
            }
            if (n == 0)
            {
                if (collected.Count == 0)
                {
                    return new StageResult(StageOutcome.Closed, "");
                }
                if (collected[0] == Ready)
                {
                    return new StageResult(StageOutcome.Ready, "");
                }
                string message = Encoding.UTF8.GetString(collected.ToArray(), 1, collected.Count - 1);
                return new StageResult(StageOutcome.Failed, message);
            }
            long left = deadline - Interop.Sys.MonotonicMillis();
            if (left <= 0)
            {
                return new StageResult(StageOutcome.TimedOut, "");
            }
            WaitReadable(fd, pidfd, (int)left);
        }
    }

    private static unsafe void WaitReadable(int fd, int pidfd, int timeoutMs)
    {
        Interop.PollFd* fds = stackalloc Interop.PollFd[2];
        fds[0] = new Interop.PollFd { Fd = fd, Events = Interop.Sys.POLLIN };
        fds[1] = new Interop.PollFd { Fd = pidfd, Events = Interop.Sys.POLLIN };
        Interop.Sys.Poll(fds, pidfd >= 0 ? 2 : 1, timeoutMs);
    }
}

internal enum StageOutcome
{
    Ready,
    /// <summary>The init stage made its mounts and waits for the monitor to run the createRuntime hooks.</summary>
    HooksDue,
    Failed,
    /// <summary>End of file without a word: after 'R' for init, the exec happened; before, the stage died.</summary>
    Closed,
    TimedOut,
}

internal readonly record struct StageResult(StageOutcome Outcome, string Message);
