using Berth.Api.Shim;

namespace Berth.Shim.Init;

/// <summary>The per-process part of a container's setup, shared by the init and exec stages.</summary>
internal static class ProcessSetup
{
    /// <summary>Whether config.json creates (not joins) a namespace of this type.</summary>
    public static bool CreatesNamespace(OciSpec spec, string type) =>
        spec.Linux?.Namespaces?.Any(n => n.Type == type && string.IsNullOrEmpty(n.Path)) == true;

    public static void SetHostname(OciSpec spec)
    {
        if (!CreatesNamespace(spec, LinuxNamespaceType.Uts))
        {
            return;
        }
        if (!string.IsNullOrEmpty(spec.Hostname))
        {
            Interop.Sys.SetHostname(spec.Hostname);
        }
        if (!string.IsNullOrEmpty(spec.Domainname))
        {
            Interop.Sys.SetDomainname(spec.Domainname);
        }
    }

    /// <summary>Writes each sysctl under /proc/sys (as seen by this process's namespaces).</summary>
    public static void ApplySysctls(OciSpec spec)
    {
        foreach (var (key, value) in spec.Linux?.Sysctl ?? new Dictionary<string, string>())
        {
            if (key.Length == 0 || key.Contains("..", StringComparison.Ordinal) || key.StartsWith('/'))
            {
                throw new InvalidSpecException($"sysctl {key} is not a valid name");
            }
            string path = "/proc/sys/" + (key.Contains('/') ? key : key.Replace('.', '/'));
            try
            {
                ProcFiles.Write(path, value);
            }
            catch (ErrnoException e)
            {
                throw new ErrnoException(e.Error, "sysctl", $"{key}={value}");
            }
        }
    }

    public static void ApplyRlimits(OciProcess process)
    {
        foreach (OciRlimit limit in process.Rlimits ?? [])
        {
            if (!RlimitNames.TryParse(limit.Type, out int resource))
            {
                throw new InvalidSpecException($"unknown rlimit {limit.Type}");
            }
            Interop.Sys.SetRlimit(resource, limit.Soft, limit.Hard, limit.Type);
        }
    }

    /// <summary>
    /// Sets oom_score_adj, clamped: without CAP_SYS_RESOURCE the kernel refuses a value below the
    /// current one, and then the current one stays (as containerd's restrict_oom_score_adj does).
    /// </summary>
    public static void ApplyOomScoreAdj(OciProcess process)
    {
        if (process.OomScoreAdj is not { } wanted)
        {
            return;
        }
        wanted = Math.Clamp(wanted, -1000, 1000);
        try
        {
            ProcFiles.Write("/proc/self/oom_score_adj", wanted.ToString());
        }
        catch (ErrnoException e) when (e.Error is Interop.Errno.EACCES or Interop.Errno.EPERM)
        {
            string current = ProcFiles.TryRead("/proc/self/oom_score_adj") ?? "";
            if (!int.TryParse(current, out int now) || wanted >= now)
            {
                throw;
            }
        }
    }

    /// <summary>The highest capability the kernel knows (/proc/sys/kernel/cap_last_cap), or the table's.</summary>
    private static int LastCap() =>
        int.TryParse(ProcFiles.TryRead("/proc/sys/kernel/cap_last_cap"), System.Globalization.CultureInfo.InvariantCulture, out int last)
            ? last
            : CapabilityNames.All.Count - 1;

    /// <summary>
    /// Becomes the process's user with its capabilities: drops the bounding set, keeps capabilities
    /// across the uid change, sets groups, gid and uid, then the capability sets, the ambient set
    /// and no_new_privs. Capability sets are cut down to what this process holds, so a request for
    /// a capability the node does not give (CAP_SYS_RESOURCE here) does not fail the container.
    /// </summary>
    public static void BecomeUser(OciProcess process, uint uid, uint gid, IReadOnlyList<uint>? additionalGids)
    {
        OciCapabilities? caps = process.Capabilities;
        var unknown = new List<string>();
        ulong held = ReadCapabilityMask("CapPrm");
        int lastCap = LastCap();
        if (caps is not null)
        {
            ulong bounding = CapabilityNames.ToMask(caps.Bounding, unknown);
            for (int cap = 0; cap <= lastCap; cap++)
            {
                if ((bounding & (1UL << cap)) == 0 && Interop.Sys.TryPrctl(Interop.Sys.PR_CAPBSET_READ, (ulong)cap, out _) == 1)
                {
                    Interop.Sys.Prctl(Interop.Sys.PR_CAPBSET_DROP, (ulong)cap);
                }
            }
        }
        Interop.Sys.Prctl(Interop.Sys.PR_SET_KEEPCAPS, 1);
        Interop.Sys.SetGroups(additionalGids is null ? [] : additionalGids.ToArray());
        Interop.Sys.SetResGid(gid);
        Interop.Sys.SetResUid(uid);
        Interop.Sys.Prctl(Interop.Sys.PR_SET_KEEPCAPS, 0);
        if (caps is not null)
        {
            ulong effective = CapabilityNames.ToMask(caps.Effective, unknown) & held;
            ulong permitted = CapabilityNames.ToMask(caps.Permitted, unknown) & held;
            ulong inheritable = CapabilityNames.ToMask(caps.Inheritable, unknown) & held;
            ulong ambient = CapabilityNames.ToMask(caps.Ambient, unknown) & permitted & inheritable;
            Interop.Sys.CapSet(effective | ambient, permitted, inheritable);
            Interop.Sys.Prctl(Interop.Sys.PR_CAP_AMBIENT, Interop.Sys.PR_CAP_AMBIENT_CLEAR_ALL);
            for (int cap = 0; cap <= lastCap; cap++)
            {
                if ((ambient & (1UL << cap)) != 0)
                {
                    Interop.Sys.Prctl(Interop.Sys.PR_CAP_AMBIENT, Interop.Sys.PR_CAP_AMBIENT_RAISE, (ulong)cap);
                }
            }
        }
        if (process.NoNewPrivileges)
        {
            Interop.Sys.Prctl(Interop.Sys.PR_SET_NO_NEW_PRIVS, 1);
        }
    }

    /// <summary>A capability mask from /proc/self/status (CapPrm, CapEff, CapBnd); all bits when the field is missing or unparsable.</summary>
    /// <exception cref="ErrnoException">/proc/self/status cannot be read (no /proc).</exception>
    private static ulong ReadCapabilityMask(string field)
    {
        foreach (string line in ShimFiles.ReadText("/proc/self/status").Split('\n'))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return ulong.TryParse(line.AsSpan(field.Length + 1).Trim(), System.Globalization.NumberStyles.AllowHexSpecifier,
                    System.Globalization.CultureInfo.InvariantCulture, out ulong mask) ? mask : ulong.MaxValue;
            }
        }
        return ulong.MaxValue;
    }

    /// <summary>Changes to the working directory, creating it when it is missing (as runc and containerd do).</summary>
    public static void EnterWorkingDirectory(string cwd)
    {
        if (string.IsNullOrEmpty(cwd))
        {
            cwd = "/";
        }
        if (!Directory.Exists(cwd))
        {
            try
            {
                ShimFiles.MakeDirectories(cwd);
            }
            catch (ErrnoException)
            {
                // chdir below reports what matters.
            }
        }
        Interop.Sys.Chdir(cwd);
    }

    /// <summary>Finds the program of <paramref name="args"/> in the container's PATH; a clear message when it is not there.</summary>
    public static string ResolveExecutable(IReadOnlyList<string>? args, IReadOnlyList<string>? env)
    {
        if (args is null || args.Count == 0 || string.IsNullOrEmpty(args[0]))
        {
            throw new InvalidSpecException("the process has no args");
        }
        return PathResolver.LookPath(args[0], PathResolver.GetEnv(env, "PATH"), Interop.Sys.IsExecutable)
            ?? throw new InvalidSpecException(args[0].Contains('/')
                ? $"exec: \"{args[0]}\": no such executable file"
                : $"exec: \"{args[0]}\": executable file not found in $PATH");
    }

    /// <summary>
    /// The spec's seccomp filter, compiled but not loaded; null when it has none. Called before the
    /// stage changes its root (pivot_root, or setns into the container's mount namespace): the first
    /// call maps libseccomp from the host's file system, and a profile the node's libseccomp cannot
    /// build fails here, while the stage can still report it.
    /// </summary>
    public static Security.LibSeccompContext? CompileSeccomp(LinuxSeccomp? seccomp) => Security.LibSeccompContext.Prepare(seccomp);

    /// <summary>
    /// Loads the filter now when the process keeps the right to gain privileges (no_new_privs off):
    /// loading one then needs CAP_SYS_ADMIN, so it must happen before the capabilities are dropped, as
    /// runc does. Returns the filter still to load, for <see cref="Exec"/>; null when none is left.
    /// </summary>
    public static Security.LibSeccompContext? LoadSeccompWhilePrivileged(Security.LibSeccompContext? filter, OciProcess process)
    {
        if (filter is not null && !process.NoNewPrivileges)
        {
            filter.Load();
            return null;
        }
        return filter;
    }

    /// <summary>
    /// Asks for the AppArmor profile the process execs into (the OCI spec's apparmorProfile), as runc:
    /// "exec NAME" written to /proc/self/attr/apparmor/exec, or /proc/self/attr/exec on kernels
    /// without the per-module directory. The transition happens at execve.
    /// </summary>
    public static void ApplyAppArmor(OciProcess process)
    {
        if (string.IsNullOrEmpty(process.ApparmorProfile))
        {
            return;
        }
        string path = Directory.Exists("/proc/self/attr/apparmor") ? "/proc/self/attr/apparmor/exec" : "/proc/self/attr/exec";
        ProcFiles.Write(path, "exec " + process.ApparmorProfile);
    }

    /// <summary>
    /// The last step of a stage: default signal dispositions, an empty mask, nothing inherited past
    /// stdio, the seccomp filter still to load (after no_new_privs, so that as few system calls as
    /// possible run under it), execve.
    /// </summary>
    public static void Exec(string path, IReadOnlyList<string> args, IReadOnlyList<string> env, Security.LibSeccompContext? seccomp)
    {
        Interop.Sys.ResetIgnoredSignals();
        Interop.Sys.SetThreadSignalMask([]);
        Interop.Sys.CloseOnExecFrom(3);
        seccomp?.Load();
        Interop.Sys.Execve(path, args, env);
    }
}
