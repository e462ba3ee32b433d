using System.Diagnostics;
using System.Globalization;
using Berth.Shim.Spawn;

namespace Berth.Bench.SpawnFloor;

/// <summary>
/// <c>spawn-floor SHIM COUNT [sandbox|container]</c>, run by bench/run for <c>make bench</c>: the
/// physical floor of a container start on this node, timed COUNT times: berth-shim's own spawn path
/// (its <see cref="NamespaceSpawner"/>: a dedicated thread, unshare, posix_spawn) starting
/// <c>SHIM noop</c> into new namespaces, with no mounts, reaped through a pidfd: a sandbox's (pid,
/// mount, network, IPC, UTS; the default) or a container's of a pod (pid and mount; the pod's network,
/// IPC and UTS are joined, which costs little). Prints one duration in milliseconds per line. A benchmark-only program, so
/// that the production shim carries no benchmark mode.
/// </summary>
internal static class Program
{
    private const int SandboxNamespaces = Interop.Sys.CLONE_NEWPID | Interop.Sys.CLONE_NEWNS | Interop.Sys.CLONE_NEWNET
        | Interop.Sys.CLONE_NEWIPC | Interop.Sys.CLONE_NEWUTS;

    private const int ContainerNamespaces = Interop.Sys.CLONE_NEWPID | Interop.Sys.CLONE_NEWNS;

    public static int Main(string[] args)
    {
        string kind = args.Length == 3 ? args[2] : "sandbox";
        if (args.Length is < 2 or > 3 || !int.TryParse(args[1], CultureInfo.InvariantCulture, out int count) || count <= 0
            || kind is not ("sandbox" or "container"))
        {
            Console.Error.WriteLine("usage: spawn-floor SHIM COUNT [sandbox|container]");
            return 2;
        }
        string shim = args[0];
        int namespaces = kind == "sandbox" ? SandboxNamespaces : ContainerNamespaces;
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
                    Unshare = namespaces,
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
