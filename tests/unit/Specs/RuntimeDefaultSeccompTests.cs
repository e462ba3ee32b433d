using Berth.Api.Shim;
using Berth.RuntimeService.Specs;

namespace Berth.Tests.Unit.Specs;

/// <summary>
/// Berth's RuntimeDefault seccomp data against the facts of the upstream profile it follows:
/// containerd's contrib/seccomp/seccomp_default.go at commit 0c23e946a (and moby's default.json):
/// what it denies, what capabilities unlock, its argument rules and its errno.
/// </summary>
public sealed class RuntimeDefaultSeccompTests
{
    private static readonly IReadOnlyList<string> s_defaultCaps = Capabilities.Default;

    private static readonly LinuxSeccomp s_plain = RuntimeDefaultSeccomp.For("x64", s_defaultCaps);

    /// <summary>Names allowed whatever their arguments.</summary>
    private static HashSet<string> Unconditional(LinuxSeccomp profile) =>
        profile.Syscalls!.Where(rule => rule.Action == "SCMP_ACT_ALLOW" && rule.Args is null).SelectMany(rule => rule.Names).ToHashSet();

    private static IEnumerable<LinuxSyscall> RulesFor(LinuxSeccomp profile, string name) =>
        profile.Syscalls!.Where(rule => rule.Names.Contains(name));

    [Fact]
    public void ADeniedCallFailsWithEpermAndTheX86AbisAreCovered()
    {
        Assert.Equal("SCMP_ACT_ERRNO", s_plain.DefaultAction);
        Assert.Equal(1u, s_plain.DefaultErrnoRet);
        Assert.Equal(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], s_plain.Architectures);
        Assert.Equal(["SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"], RuntimeDefaultSeccomp.For("arm64", s_defaultCaps).Architectures);
        Assert.Null(RuntimeDefaultSeccomp.For("wasm", s_defaultCaps).Architectures);
        Assert.Null(SeccompRules.Problem(s_plain));
    }

    /// <summary>upstream's unconditional list (363 names at that commit) and its edges.</summary>
    [Fact]
    public void TheUnconditionalListIsUpstreams()
    {
        var first = s_plain.Syscalls![0];
        Assert.Equal(363, first.Names.Count);
        Assert.Equal(first.Names.Count, first.Names.Distinct().Count());
        Assert.Equal(first.Names.Order(StringComparer.Ordinal), first.Names);
        string[] samples =
        [
            "_llseek", "accept4", "capset", "clock_adjtime", "close_range", "execveat", "fchmodat2", "futex_waitv",
            "landlock_restrict_self", "memfd_secret", "name_to_handle_at", "openat2", "pidfd_open", "process_mrelease",
            "rseq", "seccomp", "socketcall", "uretprobe", "writev",
        ];
        Assert.Superset(samples.ToHashSet(), first.Names.ToHashSet());
        // io_uring left the list in 2023 (moby #46762); setns needs CAP_SYS_ADMIN; socket has rules of its own.
        Assert.DoesNotContain("io_uring_setup", first.Names);
        Assert.DoesNotContain("setns", first.Names);
        Assert.DoesNotContain("socket", first.Names);
        // ptrace and process_vm_* are allowed to all (upstream: on kernels from 4.8 on).
        Assert.Superset(new HashSet<string> { "ptrace", "process_vm_readv", "process_vm_writev" }, Unconditional(s_plain));
    }

    /// <summary>Docker's list of "significant syscalls blocked by the default profile" (those still blocked upstream).</summary>
    [Fact]
    public void WhatUpstreamBlocksIsBlockedForADefaultContainer()
    {
        string[] blocked =
        [
            "acct", "add_key", "bpf", "clock_settime", "create_module", "delete_module", "finit_module", "get_kernel_syms",
            "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl",
            "lookup_dcookie", "mbind", "mount", "move_pages", "nfsservctl", "open_by_handle_at", "perf_event_open",
            "pivot_root", "query_module", "quotactl", "reboot", "request_key", "set_mempolicy", "setns", "settimeofday",
            "stime", "swapon", "swapoff", "sysfs", "_sysctl", "umount", "umount2", "unshare", "uselib", "userfaultfd",
            "ustat", "vm86", "vm86old", "clone3", "fsopen", "open_tree", "move_mount", "mount_setattr",
        ];
        var allowed = s_plain.Syscalls!.Where(rule => rule.Action == "SCMP_ACT_ALLOW").SelectMany(rule => rule.Names).ToHashSet();
        Assert.DoesNotContain(blocked, allowed.Contains);
        // chroot is allowed because the default set holds CAP_SYS_CHROOT.
        Assert.Contains("chroot", allowed);
    }

    public static TheoryData<string, string[]> CapabilityGates => new()
    {
        { "CAP_DAC_READ_SEARCH", ["open_by_handle_at"] },
        { "CAP_SYS_ADMIN", ["bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie", "mount",
            "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
            "setns", "syslog", "umount", "umount2", "unshare"] },
        { "CAP_SYS_BOOT", ["reboot"] },
        { "CAP_SYS_MODULE", ["delete_module", "init_module", "finit_module"] },
        { "CAP_SYS_PACCT", ["acct"] },
        { "CAP_SYS_PTRACE", ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"] },
        { "CAP_SYS_RAWIO", ["iopl", "ioperm"] },
        { "CAP_SYS_TIME", ["settimeofday", "stime", "clock_settime", "clock_settime64"] },
        { "CAP_SYS_TTY_CONFIG", ["vhangup"] },
        { "CAP_SYS_NICE", ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"] },
        { "CAP_SYSLOG", ["syslog"] },
        { "CAP_BPF", ["bpf"] },
        { "CAP_PERFMON", ["perf_event_open"] },
    };

    [Theory]
    [MemberData(nameof(CapabilityGates))]
    public void ACapabilityAllowsWhatUpstreamGivesIt(string capability, string[] names)
    {
        Assert.Superset(names.ToHashSet(), Unconditional(RuntimeDefaultSeccomp.For("x64", [.. s_defaultCaps, capability])));
        // Without it they are denied, but for what upstream allows to all.
        string[] toAll = ["ptrace", "process_vm_readv", "process_vm_writev"];
        Assert.DoesNotContain(names.Except(toAll), Unconditional(s_plain).Contains);
    }

    [Fact]
    public void WithoutSysAdminCloneMayNotMakeNamespacesAndClone3IsEnosys()
    {
        var clone = Assert.Single(RulesFor(s_plain, "clone"));
        var arg = Assert.Single(clone.Args!);
        // CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET must all be clear.
        Assert.Equal((0u, 0x7E020000ul, 0ul, "SCMP_CMP_MASKED_EQ"), (arg.Index, arg.Value, arg.ValueTwo, arg.Op));
        var clone3 = Assert.Single(RulesFor(s_plain, "clone3"));
        Assert.Equal(("SCMP_ACT_ERRNO", 38u), (clone3.Action, clone3.ErrnoRet!.Value));
        // s390 passes the flags second.
        Assert.Equal(1u, Assert.Single(Assert.Single(RulesFor(RuntimeDefaultSeccomp.For("s390x", s_defaultCaps), "clone")).Args!).Index);

        var admin = RuntimeDefaultSeccomp.For("x64", [.. s_defaultCaps, "CAP_SYS_ADMIN"]);
        Assert.All(RulesFor(admin, "clone").Concat(RulesFor(admin, "clone3")), rule => Assert.Equal(("SCMP_ACT_ALLOW", null), (rule.Action, rule.Args)));
    }

    [Fact]
    public void PersonalityOnlyQueriesOrSetsLinuxAndUname26()
    {
        var values = RulesFor(s_plain, "personality").Select(rule => Assert.Single(rule.Args!)).ToList();
        Assert.All(values, arg => Assert.Equal((0u, "SCMP_CMP_EQ"), (arg.Index, arg.Op)));
        Assert.Equal([0ul, 0x8, 0x20000, 0x20008, 0xffffffff], values.Select(arg => arg.Value));
    }

    [Fact]
    public void SocketIsAllowedForEveryFamilyButAlgAndVsock()
    {
        var ranges = RulesFor(s_plain, "socket").Select(rule => Assert.Single(rule.Args!)).Select(arg => (arg.Op, arg.Value)).ToList();
        Assert.Equal([("SCMP_CMP_LT", 38ul), ("SCMP_CMP_EQ", 39ul), ("SCMP_CMP_GT", 40ul)], ranges);
    }

    [Theory]
    [InlineData("x64", new[] { "arch_prctl", "modify_ldt" })]
    [InlineData("x86", new[] { "modify_ldt" })]
    [InlineData("arm64", new[] { "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls" })]
    [InlineData("s390x", new[] { "s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr" })]
    [InlineData("ppc64le", new[] { "sync_file_range2", "swapcontext" })]
    [InlineData("riscv64", new[] { "riscv_flush_icache", "riscv_hwprobe" })]
    public void EachArchitectureGetsItsOwnCalls(string architecture, string[] names)
    {
        Assert.Superset(names.ToHashSet(), Unconditional(RuntimeDefaultSeccomp.For(architecture, s_defaultCaps)));
        if (architecture != "x64")
        {
            Assert.DoesNotContain("arch_prctl", Unconditional(RuntimeDefaultSeccomp.For(architecture, s_defaultCaps)));
        }
    }
}
