using Berth.Api.Shim;
using Berth.Shim.Init;
using Berth.Shim.Spawn;

namespace Berth.Shim.Pause;

/// <summary>
/// <c>berth-shim pause &lt;bundle&gt;</c>: the pod sandbox's process, holding the pod's new
/// namespaces (no pause image needed). It sets the hostname and sysctls, brings loopback up,
/// loads the pod's seccomp filter if it has one, reports ready on descriptor 3, then sleeps reaping zombies (it is PID 1 when the pod has its
/// own pid namespace) until SIGTERM or SIGINT.
/// <para>
/// The monitor spawns it with SIGCHLD, SIGTERM, SIGINT and SIGHUP already blocked, so every thread
/// the runtime starts inherits the block and the signals reach the signalfd below and no other
/// thread (which, with a default disposition, would drop them: PID 1 ignores unhandled signals).
/// </para>
/// </summary>
internal static class PauseStage
{
    private static readonly int[] s_signals = [Interop.Sys.SIGCHLD, Interop.Sys.SIGTERM, Interop.Sys.SIGINT, Interop.Sys.SIGHUP];

    public static int Run(string bundle)
    {
        int signals;
        try
        {
            Interop.Sys.SetCloseOnExec(StageReport.StatusFd, true);
            signals = Interop.Sys.SignalFd(s_signals, nonBlocking: false);
            OciSpec spec = BundleFiles.ReadSpec(bundle);
            var seccomp = ProcessSetup.CompileSeccomp(spec.Linux?.Seccomp);
            Interop.Sys.SetSid();
            Interop.Sys.Chdir("/");
            ProcessSetup.SetHostname(spec);
            if (ProcessSetup.CreatesNamespace(spec, LinuxNamespaceType.Network))
            {
                Interop.Sys.InterfaceUp("lo");
            }
            ProcessSetup.ApplySysctls(spec);
            if (spec.Process is { } process)
            {
                ProcessSetup.ApplyOomScoreAdj(process);
            }
            // The pod's seccomp profile, last (as containerd filters the pause container): the reaper
            // only waits and reaps from here on. It keeps CAP_SYS_ADMIN, so no no_new_privs is needed.
            seccomp?.Load();
            StageReport.SendReady(StageReport.StatusFd);
            Interop.Sys.Close(StageReport.StatusFd);
        }
        catch (Exception e)
        {
            StageReport.SendError(StageReport.StatusFd, FailureText.Describe(e));
            return 1;
        }
        Monitor.Footprint.Trim();
        return Reap(signals);
    }

    private static int Reap(int signalFd)
    {
        // struct signalfd_siginfo is 128 bytes; ssi_signo is its first field.
        Span<byte> info = stackalloc byte[128];
        while (true)
        {
            int n = Interop.Sys.Read(signalFd, info);
            if (n < 4)
            {
                continue;
            }
            int signal = BitConverter.ToInt32(info);
            if (signal == Interop.Sys.SIGCHLD)
            {
                while (Interop.Sys.ReapAny())
                {
                }
            }
            else if (signal is Interop.Sys.SIGTERM or Interop.Sys.SIGINT)
            {
                return 0;
            }
        }
    }
}
