namespace Berth.Api.Shim;

/// <summary>
/// The vocabulary of a seccomp profile in the OCI runtime spec (config-linux.md, "Seccomp") with the
/// values libseccomp gives each word (seccomp.h of libseccomp 2.5), and the one check of a profile
/// both sides run: berthd before it writes config.json (a Localhost profile with a mistake is
/// INVALID_ARGUMENT naming its file), the shim before it compiles one.
/// </summary>
public static class SeccompRules
{
    /// <summary>The errno of SCMP_ACT_ERRNO and SCMP_ACT_TRACE when the profile gives none: EPERM, as runc.</summary>
    public const uint DefaultErrno = 1;

    /// <summary>Linux system calls take at most six arguments; an argument index is 0..5.</summary>
    public const uint MaxArguments = 6;

    public const string ActionAllow = "SCMP_ACT_ALLOW";
    public const string ActionErrno = "SCMP_ACT_ERRNO";

    /// <summary>libseccomp's action values (SCMP_ACT_*); ERRNO and TRACE take the low 16 bits from errnoRet.</summary>
    private static readonly Dictionary<string, uint> s_actions = new(StringComparer.Ordinal)
    {
        ["SCMP_ACT_KILL"] = 0x0000_0000,
        ["SCMP_ACT_KILL_THREAD"] = 0x0000_0000,
        ["SCMP_ACT_KILL_PROCESS"] = 0x8000_0000,
        ["SCMP_ACT_TRAP"] = 0x0003_0000,
        [ActionErrno] = 0x0005_0000,
        ["SCMP_ACT_TRACE"] = 0x7ff0_0000,
        ["SCMP_ACT_LOG"] = 0x7ffc_0000,
        [ActionAllow] = 0x7fff_0000,
    };

    /// <summary>libseccomp's comparison operators (enum scmp_compare).</summary>
    private static readonly Dictionary<string, int> s_operators = new(StringComparer.Ordinal)
    {
        ["SCMP_CMP_NE"] = 1,
        ["SCMP_CMP_LT"] = 2,
        ["SCMP_CMP_LE"] = 3,
        ["SCMP_CMP_EQ"] = 4,
        ["SCMP_CMP_GE"] = 5,
        ["SCMP_CMP_GT"] = 6,
        ["SCMP_CMP_MASKED_EQ"] = 7,
    };

    /// <summary>The spec's architecture names; libseccomp's own name of each is the rest of it in lower case.</summary>
    private static readonly HashSet<string> s_architectures = new(StringComparer.Ordinal)
    {
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
    };

    /// <summary>SECCOMP_FILTER_FLAG_* the shim can set: TSYNC (always on), LOG and SPEC_ALLOW (libseccomp's CTL_LOG and CTL_SSB).</summary>
    public const string FlagTsync = "SECCOMP_FILTER_FLAG_TSYNC";
    public const string FlagLog = "SECCOMP_FILTER_FLAG_LOG";
    public const string FlagSpecAllow = "SECCOMP_FILTER_FLAG_SPEC_ALLOW";

    /// <summary>
    /// The libseccomp action of an OCI action name, with <paramref name="errnoRet"/> for ERRNO and TRACE
    /// (EPERM when absent, as runc); false for a name that is not an action, or SCMP_ACT_NOTIFY, which
    /// needs a seccomp agent Berth does not run.
    /// </summary>
    public static bool TryAction(string name, uint? errnoRet, out uint action)
    {
        if (!s_actions.TryGetValue(name, out action))
        {
            return false;
        }
        if (name is ActionErrno or "SCMP_ACT_TRACE")
        {
            action |= (errnoRet ?? DefaultErrno) & 0xffff;
        }
        return true;
    }

    /// <summary>The libseccomp operator (enum scmp_compare) of an OCI operator name.</summary>
    public static bool TryOperator(string name, out int op) => s_operators.TryGetValue(name, out op);

    /// <summary>libseccomp's name of an OCI architecture (<c>SCMP_ARCH_X86_64</c> → <c>x86_64</c>), for seccomp_arch_resolve_name.</summary>
    public static bool TryArchitecture(string name, out string libseccompName)
    {
        libseccompName = s_architectures.Contains(name) ? name["SCMP_ARCH_".Length..].ToLowerInvariant() : "";
        return libseccompName.Length > 0;
    }

    /// <summary>
    /// The first thing wrong with a profile, in the profile's own terms, or null when it can be compiled:
    /// a known default action, known architectures and flags, and every rule with names, a known action,
    /// and arguments with an index below 6 and a known operator. Syscall names are not checked here:
    /// one this libseccomp or kernel does not know is skipped when the filter is compiled, as runc does.
    /// </summary>
    public static string? Problem(LinuxSeccomp profile)
    {
        // A profile read from JSON may hold nulls where the model has none: the source-generated reader
        // leaves an init-only member that the file omits at default(T).
        if (profile.DefaultAction is not { Length: > 0 })
        {
            return "it has no defaultAction";
        }
        if (ActionProblem(profile.DefaultAction, profile.DefaultErrnoRet) is { } action)
        {
            return $"defaultAction {action}";
        }
        foreach (string architecture in profile.Architectures ?? [])
        {
            if (architecture is null || !TryArchitecture(architecture, out _))
            {
                return $"architecture \"{architecture}\" is not one of the SCMP_ARCH_* names";
            }
        }
        foreach (string? flag in profile.Flags ?? [])
        {
            if (flag is not (FlagTsync or FlagLog or FlagSpecAllow))
            {
                return $"flag \"{flag}\" is not one of {FlagTsync}, {FlagLog}, {FlagSpecAllow}";
            }
        }
        var syscalls = profile.Syscalls ?? [];
        for (int i = 0; i < syscalls.Count; i++)
        {
            if (syscalls[i] is null)
            {
                return $"syscalls[{i}] is null";
            }
            if (RuleProblem(syscalls[i]) is { } problem)
            {
                return $"syscalls[{i}] {problem}";
            }
        }
        return null;
    }

    private static string? RuleProblem(LinuxSyscall rule)
    {
        if (rule.Names is not { Count: > 0 } names || names.Any(string.IsNullOrEmpty))
        {
            return "has no names, or an empty one";
        }
        if (ActionProblem(rule.Action ?? "", rule.ErrnoRet) is { } action)
        {
            return $"action {action}";
        }
        foreach (LinuxSeccompArg arg in rule.Args ?? [])
        {
            if (arg.Index >= MaxArguments)
            {
                return $"compares argument {arg.Index}; system calls have arguments 0 to {MaxArguments - 1}";
            }
            if (arg is null || !TryOperator(arg.Op ?? "", out _))
            {
                return $"has operator \"{arg?.Op}\", which is not one of the SCMP_CMP_* names";
            }
        }
        return null;
    }

    private static string? ActionProblem(string name, uint? errnoRet) =>
        name == "SCMP_ACT_NOTIFY" ? "SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath), which Berth does not run"
        : !TryAction(name, errnoRet, out _) ? $"\"{name}\" is not one of the SCMP_ACT_* names"
        : errnoRet > 0xffff ? $"{name} has errnoRet {errnoRet}, above 65535"
        : null;
}
