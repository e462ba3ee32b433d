using Berth.Api.Shim;

namespace Berth.Shim.Security;

/// <summary>
/// The libseccomp calls a filter is built with, behind an interface so that the translation from the
/// spec is unit-tested with a recording fake (as youki passes its syscalls through a trait);
/// <see cref="LibSeccompContext"/> makes them for real.
/// </summary>
internal interface ISeccompContext
{
    /// <summary>seccomp_init: a new filter with this default action.</summary>
    void Create(uint defaultAction);

    /// <summary>seccomp_arch_add of a libseccomp architecture name (<c>x86_64</c>); false when this libseccomp does not know it.</summary>
    bool AddArchitecture(string name);

    /// <summary>seccomp_attr_set.</summary>
    void SetAttribute(int attribute, uint value);

    /// <summary>seccomp_syscall_resolve_name: the native number, or null when the name is unknown to this libseccomp.</summary>
    int? ResolveSyscall(string name);

    /// <summary>seccomp_rule_add_array: <paramref name="syscall"/> (<paramref name="name"/>) takes <paramref name="action"/> when every comparison holds.</summary>
    void AddRule(uint action, int syscall, IReadOnlyList<SeccompCompare> compares, string name);
}

/// <summary>One argument comparison of a rule, in libseccomp's terms (struct scmp_arg_cmp): argument 0..5, enum scmp_compare, the two data.</summary>
internal readonly record struct SeccompCompare(uint Argument, int Operator, ulong DatumA, ulong DatumB);

/// <summary>
/// Compiles the spec's <c>linux.seccomp</c> into a libseccomp filter the way runc does
/// (libcontainer/seccomp/seccomp_linux.go): the default action (ERRNO without errnoRet is EPERM), every
/// listed architecture, the flags, no_new_privs left to the process (the spec decides it), all threads
/// synchronised (the stages are multithreaded .NET processes); then each rule, skipping a rule whose
/// action is the default one and a system call this libseccomp does not know, and splitting a rule
/// that compares one argument twice into one rule per comparison (libseccomp refuses such a rule).
/// </summary>
internal static class SeccompFilter
{
    /// <summary>Above this many system calls, libseccomp is asked for a binary tree (runc's threshold).</summary>
    private const int BinaryTreeThreshold = 32;

    /// <exception cref="InvalidSpecException">The profile breaks <see cref="SeccompRules.Problem"/>, or names an architecture this libseccomp lacks.</exception>
    public static void Compile(LinuxSeccomp profile, ISeccompContext context)
    {
        if (SeccompRules.Problem(profile) is { } problem)
        {
            throw new InvalidSpecException($"linux.seccomp: {problem}");
        }
        SeccompRules.TryAction(profile.DefaultAction, profile.DefaultErrnoRet, out uint defaultAction);
        context.Create(defaultAction);
        foreach (string architecture in profile.Architectures ?? [])
        {
            SeccompRules.TryArchitecture(architecture, out string name);
            if (!context.AddArchitecture(name))
            {
                throw new InvalidSpecException($"linux.seccomp: architecture {architecture} is not known to this node's libseccomp");
            }
        }
        foreach (string flag in profile.Flags ?? [])
        {
            switch (flag)
            {
                case SeccompRules.FlagLog:
                    context.SetAttribute(Interop.Sys.SCMP_FLTATR_CTL_LOG, 1);
                    break;
                case SeccompRules.FlagSpecAllow:
                    context.SetAttribute(Interop.Sys.SCMP_FLTATR_CTL_SSB, 1);
                    break;
            }
        }
        context.SetAttribute(Interop.Sys.SCMP_FLTATR_CTL_NNP, 0);
        context.SetAttribute(Interop.Sys.SCMP_FLTATR_CTL_TSYNC, 1);
        var rules = profile.Syscalls ?? [];
        if (rules.Sum(rule => rule.Names.Count) > BinaryTreeThreshold)
        {
            context.SetAttribute(Interop.Sys.SCMP_FLTATR_CTL_OPTIMIZE, 2);
        }
        foreach (LinuxSyscall rule in rules)
        {
            SeccompRules.TryAction(rule.Action, rule.ErrnoRet, out uint action);
            if (action == defaultAction)
            {
                continue;
            }
            var compares = Compares(rule.Args);
            bool splitByArgument = compares.Length != compares.Select(compare => compare.Argument).Distinct().Count();
            foreach (string name in rule.Names)
            {
                if (context.ResolveSyscall(name) is not { } number)
                {
                    continue;
                }
                if (!splitByArgument)
                {
                    context.AddRule(action, number, compares, name);
                    continue;
                }
                foreach (var compare in compares)
                {
                    context.AddRule(action, number, [compare], name);
                }
            }
        }
    }

    private static SeccompCompare[] Compares(IReadOnlyList<LinuxSeccompArg>? args) =>
        (args ?? []).Select(arg =>
        {
            SeccompRules.TryOperator(arg.Op, out int op);
            return new SeccompCompare(arg.Index, op, arg.Value, arg.ValueTwo);
        }).ToArray();
}
