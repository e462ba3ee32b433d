using System.Text;
using Berth.Api.Shim;
using Berth.Shim.Spawn;

namespace Berth.Shim.Hooks;

/// <summary>A hook that could not run, failed or timed out; the message names the hook kind, its path and what happened.</summary>
internal sealed class HookFailedException(string message) : Exception(message);

/// <summary>
/// Runs OCI hooks (runtime-spec config.md "POSIX-platform Hooks") as runc's libcontainer <c>Hook.Run</c> does: the
/// hook's path with its args as the whole argv and exactly its env, the container's state JSON on stdin, its
/// output kept for the error message; a non-zero exit, a signal or the timeout fails it. Spawned like every
/// process of the shim (<see cref="NamespaceSpawner"/>: posix_spawn from a dedicated thread, no fork of managed
/// code), in the namespaces and root of the caller: the monitor's (the host's) or the init stage's (the
/// container's). Waited for synchronously: hooks are rare, and only containers that have them pay for this.
/// </summary>
internal static class HookRunner
{
    /// <summary>The limit for a hook that sets no timeout, in seconds: one that never ends must not hang Create forever.</summary>
    public const int DefaultTimeoutSeconds = 60;

    /// <summary>How much of a hook's stdout and stderr the failure message keeps.</summary>
    private const int OutputLimit = 2048;

    /// <summary>
    /// Runs <paramref name="hooks"/> in order with <paramref name="state"/> on each one's stdin; throws
    /// <see cref="HookFailedException"/> at the first that fails (the rest do not run, as in runc).
    /// </summary>
    /// <param name="kind">The hook list's name in config.json (createRuntime, poststop, ...), for messages.</param>
    public static void RunAll(string kind, IReadOnlyList<OciHook>? hooks, OciState state)
    {
        if (hooks is not { Count: > 0 })
        {
            return;
        }
        byte[] json = OciJson.Serialize(state);
        foreach (OciHook hook in hooks)
        {
            Run(kind, hook, json);
        }
    }

    /// <summary>The state a hook of <paramref name="spec"/>'s container reads: <paramref name="status"/> is creating, created, running or stopped.</summary>
    public static OciState State(OciSpec spec, string id, string bundle, string status, int? pid) =>
        new() { Id = id, Status = status, Pid = pid, Bundle = bundle, Annotations = spec.Annotations };

    private static void Run(string kind, OciHook hook, byte[] state)
    {
        string what = $"{kind} hook {hook.Path}";
        var (inRead, inWrite) = Interop.Sys.Pipe();
        var (outRead, outWrite) = Interop.Sys.Pipe(nonBlocking: true);
        int pid = -1, pidfd = -1;
        try
        {
            try
            {
                pid = NamespaceSpawner.Spawn(new SpawnPlan
                {
                    Program = hook.Path,
                    Arguments = hook.Args is { Count: > 0 } args ? [.. args] : [hook.Path],
                    Environment = [.. hook.Env ?? []],
                    Descriptors = [(0, inRead), (1, outWrite), (2, outWrite)],
                });
            }
            catch (ErrnoException e)
            {
                throw new HookFailedException($"{what} cannot be run: {e.Message}");
            }
            Interop.Sys.Close(inRead);
            inRead = -1;
            Interop.Sys.Close(outWrite);
            outWrite = -1;
            pidfd = Interop.Sys.PidfdOpen(pid);
            try
            {
                // The state is far smaller than a pipe's buffer: this never waits, even for a hook that does not read it.
                Interop.Sys.WriteAll(inWrite, state);
            }
            catch (ErrnoException e) when (e.Error == Interop.Errno.EPIPE)
            {
                // The hook closed its stdin unread: its choice.
            }
            Interop.Sys.Close(inWrite);
            inWrite = -1;

            int timeoutSeconds = hook.Timeout ?? DefaultTimeoutSeconds;
            var output = new StringBuilder();
            if (!WaitForExit(pidfd, outRead, timeoutSeconds * 1000L, output))
            {
                Interop.Sys.PidfdSignal(pidfd, Interop.Sys.SIGKILL);
                Interop.Sys.WaitPidfd(pidfd, block: true);
                throw new HookFailedException($"{what} did not finish within {timeoutSeconds} s and was killed{Said(output)}");
            }
            Drain(outRead, output);
            var exit = Interop.Sys.WaitPidfd(pidfd, block: true)!.Value;
            if (exit.Signaled || exit.Status != 0)
            {
                string how = exit.Signaled ? $"was killed by signal {exit.Status}" : $"exited with status {exit.Status}";
                throw new HookFailedException($"{what} {how}{Said(output)}");
            }
        }
        finally
        {
            foreach (int fd in new[] { inRead, inWrite, outRead, outWrite, pidfd })
            {
                if (fd >= 0)
                {
                    Interop.Sys.Close(fd);
                }
            }
        }
    }

    /// <summary>Collects the hook's output until it exits (true) or the time is up (false).</summary>
    private static unsafe bool WaitForExit(int pidfd, int outRead, long timeoutMs, StringBuilder output)
    {
        long deadline = Interop.Sys.MonotonicMillis() + timeoutMs;
        bool outputOpen = true;
        Interop.PollFd* fds = stackalloc Interop.PollFd[2];
        while (true)
        {
            long left = deadline - Interop.Sys.MonotonicMillis();
            if (left <= 0)
            {
                return false;
            }
            fds[0] = new Interop.PollFd { Fd = pidfd, Events = Interop.Sys.POLLIN };
            fds[1] = new Interop.PollFd { Fd = outputOpen ? outRead : -1, Events = Interop.Sys.POLLIN };
            Interop.Sys.Poll(fds, 2, (int)Math.Min(left, int.MaxValue));
            if (fds[1].Revents != 0)
            {
                outputOpen = Drain(outRead, output);
            }
            if (fds[0].Revents != 0)
            {
                return true;
            }
        }
    }

    /// <summary>Reads what the output pipe holds now (keeping at most <see cref="OutputLimit"/> characters); false at end of file.</summary>
    private static bool Drain(int outRead, StringBuilder output)
    {
        Span<byte> buffer = stackalloc byte[4096];
        while (true)
        {
            int n = Interop.Sys.Read(outRead, buffer);
            if (n <= 0)
            {
                return n < 0;
            }
            if (output.Length < OutputLimit)
            {
                string text = Encoding.UTF8.GetString(buffer[..n]);
                output.Append(text.AsSpan(0, Math.Min(text.Length, OutputLimit - output.Length)));
            }
        }
    }

    private static string Said(StringBuilder output) =>
        output.ToString().Trim() is { Length: > 0 } text ? $": {text}" : " (no output)";
}
