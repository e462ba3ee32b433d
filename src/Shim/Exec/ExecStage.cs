using Berth.Api.Shim;
using Berth.Shim.Init;
using Berth.Shim.Spawn;

namespace Berth.Shim.Exec;

/// <summary>
/// <c>berth-shim exec &lt;bundle&gt;</c>: runs an ExecSync or streaming exec command in a running container. The
/// monitor spawns it already inside the container's net, ipc, uts, pid and cgroup namespaces and
/// passes: descriptor 3, the status pipe; 4, the ExecSyncRequest (protobuf, to end of file); 5,
/// the container's mount namespace; with a terminal, 6, the console socket its pty's master goes back on. The main thread (the one that will execve) enters that mount
/// namespace, which puts it at the container's root, then takes the container's rlimits, AppArmor
/// profile, seccomp filter, user and capabilities (the request may name another user) and exec's the
/// command.
/// </summary>
internal static class ExecStage
{
    public const int RequestFd = 4;
    public const int MountNamespaceFd = 5;

    public static int Run(string bundle)
    {
        try
        {
            Interop.Sys.SetCloseOnExec(StageReport.StatusFd, true);
            Interop.Sys.SetCloseOnExec(RequestFd, true);
            Interop.Sys.SetCloseOnExec(MountNamespaceFd, true);
            var request = ExecSyncRequest.Parser.ParseFrom(ReadAll(RequestFd));
            OciExecSpec spec = BundleFiles.ReadExecSpec(bundle);
            OciProcess process = spec.Process ?? new OciProcess();

            Interop.Sys.SetSid();
            var seccomp = ProcessSetup.CompileSeccomp(spec.Linux?.Seccomp);
            Interop.Sys.Unshare(Interop.Sys.CLONE_FS);
            Interop.Sys.SetNs(MountNamespaceFd, Interop.Sys.CLONE_NEWNS, "container mount namespace");
            Interop.Sys.Close(MountNamespaceFd);
            ProcessSetup.ApplyRlimits(process);
            Interop.Sys.Umask(process.User.Umask ?? 0b000_010_010);
            string cwd = request.Cwd.Length > 0 ? request.Cwd : process.Cwd;
            uint uid = request.HasUid ? request.Uid : process.User.Uid;
            uint gid = request.HasGid ? request.Gid : process.User.Gid;
            IReadOnlyList<uint>? groups = request.HasUid || request.HasGid ? request.AdditionalGids : process.User.AdditionalGids;
            if (request.Tty)
            {
                // A new session whose controlling terminal is a pty of the container's devpts, as runc's exec with a console.
                ConsoleSocket.TakeTerminal(uid);
            }
            IReadOnlyList<string> env = request.Env.Count > 0 ? request.Env : process.Env ?? [];
            if (request.Tty && !env.Any(variable => variable.StartsWith("TERM=", StringComparison.Ordinal)))
            {
                env = [.. env, "TERM=xterm"];
            }
            try
            {
                ProcessSetup.EnterWorkingDirectory(cwd);
            }
            catch (ErrnoException e) when (e.Error == Interop.Errno.EACCES)
            {
            }
            ProcessSetup.ApplyAppArmor(process);
            seccomp = ProcessSetup.LoadSeccompWhilePrivileged(seccomp, process);
            ProcessSetup.BecomeUser(process, uid, gid, groups);
            ProcessSetup.EnterWorkingDirectory(cwd);
            string executable = ProcessSetup.ResolveExecutable(request.Args, env);
            ProcessSetup.Exec(executable, request.Args, env, seccomp);
            return 127;
        }
        catch (Exception e)
        {
            StageReport.SendError(StageReport.StatusFd, FailureText.Describe(e));
            return 127;
        }
    }

    private static byte[] ReadAll(int fd)
    {
        var data = new List<byte>();
        Span<byte> buffer = stackalloc byte[4096];
        int n;
        while ((n = Interop.Sys.Read(fd, buffer)) > 0)
        {
            data.AddRange(buffer[..n]);
        }
        return data.ToArray();
    }
}
