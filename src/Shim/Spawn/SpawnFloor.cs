using System.Diagnostics;

namespace Berth.Shim.Spawn;

/// <summary>
/// `berth-shim spawn-floor COUNT`, for `make bench`: the physical floor of a container start on this
/// node, timed COUNT times: the shim's own spawn path (a dedicated thread, unshare, posix_spawn of its
/// own stage) into new pid, mount, network, IPC and UTS namespaces, with no mounts, reaped through a
/// pidfd. Prints one duration in milliseconds per line.
/// </summary>
internal static class SpawnFloor
{
    private const int Namespaces = Interop.Sys.CLONE_NEWPID | Interop.Sys.CLONE_NEWNS | Interop.Sys.CLONE_NEWNET
        | Interop.Sys.CLONE_NEWIPC | Interop.Sys.CLONE_NEWUTS;

    public static int Run(int count)
    {
        int devNull = Interop.Sys.Open("/dev/null", Interop.Sys.O_RDWR);
        try
        {
            for (int sample = 0; sample < count; sample++)
            {
                long started = Stopwatch.GetTimestamp();
                int pid = NamespaceSpawner.Spawn(new SpawnPlan
                {
                    Arguments = ["berth-shim", "noop"],
                    Descriptors = [(0, devNull), (1, devNull), (2, devNull)],
                    Unshare = Namespaces,
                });
                int pidfd = Interop.Sys.PidfdOpen(pid);
                Interop.Sys.WaitPidfd(pidfd, block: true);
                Interop.Sys.Close(pidfd);
                Console.Out.WriteLine(Stopwatch.GetElapsedTime(started).TotalMilliseconds.ToString("F3", System.Globalization.CultureInfo.InvariantCulture));
            }
            return 0;
        }
        finally
        {
            Interop.Sys.Close(devNull);
        }
    }
}
