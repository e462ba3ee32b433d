using System.Diagnostics;
using System.Globalization;
using Berth.Shim.Spawn;

namespace Berth.Bench.SpawnFloor;

/// <summary>
/// <c>spawn-floor SHIM COUNT</c>, run by bench/run for <c>make bench</c>: the physical floor of a
/// container start on this node, timed COUNT times: berth-shim's own spawn path (its
/// <see cref="NamespaceSpawner"/>: a dedicated thread, unshare, posix_spawn) starting
/// <c>SHIM noop</c> into new pid, mount, network, IPC and UTS namespaces, with no mounts, reaped
/// through a pidfd. Prints one duration in milliseconds per line. A benchmark-only program, so
/// that the production shim carries no benchmark mode.
/// </summary>
internal static class Program
{
    private const int Namespaces = Interop.Sys.CLONE_NEWPID | Interop.Sys.CLONE_NEWNS | Interop.Sys.CLONE_NEWNET
        | Interop.Sys.CLONE_NEWIPC | Interop.Sys.CLONE_NEWUTS;

    public static int Main(string[] args)
    {
        if (args is not [var shim, var countText] || !int.TryParse(countText, CultureInfo.InvariantCulture, out int count) || count <= 0)
        {
            Console.Error.WriteLine("usage: spawn-floor SHIM COUNT");
            return 2;
        }
        // As berth-shim serve does before it spawns (DESIGN.md, measured facts): one ordinary
        // Process.Start, so .NET's SIGCHLD machinery exists before a thread enters a new pid namespace.
        using (var warmup = Process.Start(new ProcessStartInfo(shim, "noop") { UseShellExecute = false }))
        {
            warmup?.WaitForExit();
        }
        int devNull = Interop.Sys.Open("/dev/null", Interop.Sys.O_RDWR);
        try
        {
            for (int sample = 0; sample < count; sample++)
            {
                long started = Stopwatch.GetTimestamp();
                int pid = NamespaceSpawner.Spawn(new SpawnPlan
                {
                    Program = shim,
                    Arguments = ["berth-shim", "noop"],
                    Descriptors = [(0, devNull), (1, devNull), (2, devNull)],
                    Unshare = Namespaces,
                });
                int pidfd = Interop.Sys.PidfdOpen(pid);
                Interop.Sys.WaitPidfd(pidfd, block: true);
                Interop.Sys.Close(pidfd);
                Console.Out.WriteLine(Stopwatch.GetElapsedTime(started).TotalMilliseconds.ToString("F3", CultureInfo.InvariantCulture));
            }
            return 0;
        }
        finally
        {
            Interop.Sys.Close(devNull);
        }
    }
}
