using System.Runtime.InteropServices;
using Berth.Api.Shim;
using Berth.Shim.Exec;
using Berth.Shim.Init;
using Berth.Shim.Monitor;
using Berth.Shim.Pause;

namespace Berth.Shim;

/// <summary>
/// berth-shim's modes:
/// <list type="bullet">
/// <item><c>serve &lt;bundle&gt;</c>: the monitor of one container or sandbox (started detached by berthd).</item>
/// <item><c>init &lt;bundle&gt;</c>, <c>exec &lt;bundle&gt;</c>, <c>pause &lt;bundle&gt;</c>: internal stages the monitor spawns.</item>
/// <item><c>noop</c>: exits at once (what bench/SpawnFloor spawns).</item>
/// </list>
/// </summary>
internal static class Program
{
    private static PosixSignalRegistration[]? s_signals;

    public static int Main(string[] args)
    {
        long started = StageClock.Now();
        string mode = args.Length > 0 ? args[0] : "";
        string bundle = args.Length > 1 ? Path.GetFullPath(args[1]) : "";
        switch (mode)
        {
            case "serve" when bundle.Length > 0:
                return Serve(bundle, started);
            case "init" when bundle.Length > 0:
                return ContainerInit.Run(bundle);
            case "exec" when bundle.Length > 0:
                return ExecStage.Run(bundle);
            case "pause" when bundle.Length > 0:
                return PauseStage.Run(bundle);
            case "noop":
                return 0;
            default:
                string usage = "usage: berth-shim serve <bundle>\n";
                Interop.Sys.WriteAll(2, System.Text.Encoding.ASCII.GetBytes(usage));
                return 2;
        }
    }

    private static int Serve(string bundle, long started)
    {
        // Detach: own session, stdio to the bundle's shim.log, nothing held open in the daemon's directories.
        Interop.Sys.SetSid();
        int log = Interop.Sys.Open(BundleLayout.ShimLogPath(bundle), Interop.Sys.O_WRONLY | Interop.Sys.O_APPEND | Interop.Sys.O_CREAT, 0b110_100_000);
        int devNull = Interop.Sys.Open("/dev/null", Interop.Sys.O_RDONLY);
        Interop.Sys.Dup2(devNull, 0);
        Interop.Sys.Dup2(log, 1);
        Interop.Sys.Dup2(log, 2);
        Interop.Sys.Close(devNull);
        Interop.Sys.Close(log);
        Interop.Sys.Chdir("/");

        // The shim's lifetime is the daemon's to decide (Shutdown), not a stray signal's.
        s_signals =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Ignore),
            PosixSignalRegistration.Create(PosixSignal.SIGINT, Ignore),
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, Ignore),
        ];

        try
        {
            using var monitor = new ShimMonitor(bundle, new StageClock(started));
            return monitor.Run();
        }
        catch (Exception e)
        {
            ShimLog.Write($"fatal: {e}");
            return 1;
        }
    }

    private static void Ignore(PosixSignalContext context)
    {
        context.Cancel = true;
        ShimLog.Write($"ignoring {context.Signal}");
    }
}
