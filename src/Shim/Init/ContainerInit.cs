using Berth.Api.Shim;
using Berth.Shim.Hooks;
using Berth.Shim.Spawn;

namespace Berth.Shim.Init;

/// <summary>
/// <c>berth-shim init &lt;bundle&gt;</c>: the container's first process, spawned by the monitor
/// into the container's namespaces (a new mount namespace always). It sets the container up
/// completely, reports ready on descriptor 3, blocks reading the start gate on descriptor 4
/// (the monitor writes one byte on Start; end of file means give up), and exec's the user's
/// program. A container with a terminal gets it from its own devpts here and sends the master on
/// <see cref="ConsoleSocket.Fd"/>, before it reports ready. Any failure goes back on descriptor 3 as text and the stage exits.
/// </summary>
internal static class ContainerInit
{
    public const int GateFd = 4;

    public static int Run(string bundle)
    {
        try
        {
            Interop.Sys.SetCloseOnExec(StageReport.StatusFd, true);
            Interop.Sys.SetCloseOnExec(GateFd, true);
            OciSpec spec = BundleFiles.ReadSpec(bundle);
            ShimOptions options = BundleFiles.ReadOptions(bundle);
            OciProcess process = spec.Process ?? throw new InvalidSpecException("config.json has no process");

            Interop.Sys.SetSid();
            ProcessSetup.ApplyOomScoreAdj(process);
            var seccomp = ProcessSetup.CompileSeccomp(spec.Linux?.Seccomp);
            RootfsSetup.MountAndPivot(bundle, spec, options, () => RunCreateHooks(bundle, spec, options));
            ProcessSetup.SetHostname(spec);
            ProcessSetup.ApplySysctls(spec);
            RootfsSetup.Finish(spec);
            if (process.Terminal || options.Tty)
            {
                // Only now is /dev/ptmx the container's own (its devpts, after pivot_root).
                ConsoleSocket.TakeTerminal(process.User.Uid);
            }
            ProcessSetup.ApplyRlimits(process);
            if (process.User.Umask is { } umask)
            {
                Interop.Sys.Umask(umask);
            }
            else
            {
                Interop.Sys.Umask(0b000_010_010);
            }
            try
            {
                ProcessSetup.EnterWorkingDirectory(process.Cwd);
            }
            catch (ErrnoException e) when (e.Error == Interop.Errno.EACCES)
            {
                // Perhaps only the user may enter it: try again once we are the user.
            }
            ProcessSetup.ApplyAppArmor(process);
            seccomp = ProcessSetup.LoadSeccompWhilePrivileged(seccomp, process);
            ProcessSetup.BecomeUser(process, process.User.Uid, process.User.Gid, process.User.AdditionalGids);
            ProcessSetup.EnterWorkingDirectory(process.Cwd);
            IReadOnlyList<string> env = process.Env ?? [];
            string executable = ProcessSetup.ResolveExecutable(process.Args, env);

            StageReport.SendReady(StageReport.StatusFd);
            Span<byte> gate = stackalloc byte[1];
            if (Interop.Sys.Read(GateFd, gate) != 1)
            {
                // The monitor closed the gate without starting us: the container is being deleted.
                return 0;
            }
            Interop.Sys.Close(GateFd);
            // As runc: in the container, as its user, after Start and before the seccomp filter that no_new_privs loads last.
            HookRunner.RunAll("startContainer", spec.Hooks?.StartContainer,
                HookRunner.State(spec, options.Id, bundle, "created", Environment.ProcessId));
            ProcessSetup.Exec(executable, process.Args!, env, seccomp);
            return 127;
        }
        catch (Exception e)
        {
            StageReport.SendError(StageReport.StatusFd, FailureText.Describe(e));
            return 127;
        }
    }

    /// <summary>
    /// The mounts are made and the root not yet pivoted: the monitor runs the createRuntime (and prestart) hooks in
    /// the runtime's namespaces while this stage waits on its gate, then this stage runs the createContainer hooks
    /// in the container's, as runc's init does in prepareRootfs.
    /// </summary>
    private static void RunCreateHooks(string bundle, OciSpec spec, ShimOptions options)
    {
        if (spec.Hooks is not { } hooks)
        {
            return;
        }
        if (hooks.CreateRuntime is { Count: > 0 } || hooks.Prestart is { Count: > 0 })
        {
            StageReport.SendHooks(StageReport.StatusFd);
            Span<byte> go = stackalloc byte[1];
            if (Interop.Sys.Read(GateFd, go) != 1)
            {
                throw new HookFailedException("the shim stopped the set-up during the createRuntime hooks");
            }
        }
        HookRunner.RunAll("createContainer", hooks.CreateContainer, HookRunner.State(spec, options.Id, bundle, "creating", Environment.ProcessId));
    }
}
