using Berth.Api.Shim;
using Berth.RuntimeService.Specs;
using Berth.Shim;
using Berth.Shim.Security;

namespace Berth.Tests.Unit.Shim;

/// <summary>The spec's linux.seccomp as libseccomp calls, by runc's rules, seen through a recording context.</summary>
public sealed class SeccompFilterTests
{
    private const uint Allow = 0x7fff_0000;
    private const uint ErrnoEperm = 0x0005_0001;
    private const int Nnp = 3, Tsync = 4, Log = 6, Ssb = 7, Optimize = 8;

    /// <summary>Records each call as text; knows a few x86-64 system calls.</summary>
    private sealed class RecordingContext : ISeccompContext
    {
        private static readonly Dictionary<string, int> s_numbers = new()
        {
            ["read"] = 0, ["write"] = 1, ["mkdir"] = 83, ["chmod"] = 90, ["personality"] = 135, ["clone"] = 56, ["socket"] = 41, ["clone3"] = 435,
        };

        public List<string> Calls { get; } = [];

        public void Create(uint defaultAction) => Calls.Add($"init 0x{defaultAction:x}");

        public bool AddArchitecture(string name)
        {
            Calls.Add($"arch {name}");
            return name != "loongarch64";
        }

        public void SetAttribute(int attribute, uint value) => Calls.Add($"attr {attribute}={value}");

        public int? ResolveSyscall(string name) => s_numbers.TryGetValue(name, out int number) ? number : null;

        public void AddRule(uint action, int syscall, IReadOnlyList<SeccompCompare> compares, string name) =>
            Calls.Add($"rule 0x{action:x} {name}({syscall})" + string.Concat(compares.Select(c => $" [{c.Argument} op{c.Operator} {c.DatumA:x} {c.DatumB:x}]")));
    }

    private static List<string> Compile(LinuxSeccomp profile)
    {
        var context = new RecordingContext();
        SeccompFilter.Compile(profile, context);
        return context.Calls;
    }

    [Fact]
    public void AnErrnoDefaultWithoutErrnoRetIsEpermAndTheFilterSetsNoNewPrivsNotButSyncsThreads()
    {
        var calls = Compile(new LinuxSeccomp { DefaultAction = "SCMP_ACT_ERRNO", Syscalls = [new() { Names = ["read"], Action = "SCMP_ACT_ALLOW" }] });
        Assert.Equal([$"init 0x{ErrnoEperm:x}", $"attr {Nnp}=0", $"attr {Tsync}=1", $"rule 0x{Allow:x} read(0)"], calls);
    }

    [Fact]
    public void ErrnoRetIsTheRulesOrTheDefaultsErrno()
    {
        var calls = Compile(new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            DefaultErrnoRet = 38,
            Syscalls = [new() { Names = ["mkdir"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 13 }, new() { Names = ["chmod"], Action = "SCMP_ACT_KILL_PROCESS" }],
        });
        Assert.Equal("init 0x50026", calls[0]);
        Assert.Contains("rule 0x5000d mkdir(83)", calls);
        Assert.Contains("rule 0x80000000 chmod(90)", calls);
    }

    [Fact]
    public void ArchitecturesAndFlagsAreAddedAndAnUnknownArchitectureIsRefused()
    {
        var calls = Compile(new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            Flags = ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
        });
        Assert.Equal(["init 0x7fff0000", "arch x86_64", "arch x86", "arch x32", $"attr {Log}=1", $"attr {Ssb}=1", $"attr {Nnp}=0", $"attr {Tsync}=1"], calls);

        var error = Assert.Throws<InvalidSpecException>(() => Compile(new LinuxSeccomp { DefaultAction = "SCMP_ACT_ALLOW", Architectures = ["SCMP_ARCH_LOONGARCH64"] }));
        Assert.Contains("SCMP_ARCH_LOONGARCH64 is not known", error.Message);
    }

    [Fact]
    public void ARuleWithTheDefaultActionAndAnUnknownSystemCallAreSkipped()
    {
        var calls = Compile(new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            Syscalls =
            [
                new() { Names = ["mkdir"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 1 },
                new() { Names = ["statmount", "write"], Action = "SCMP_ACT_ALLOW" },
            ],
        });
        Assert.Equal([$"rule 0x{Allow:x} write(1)"], calls.Where(call => call.StartsWith("rule", StringComparison.Ordinal)));
    }

    [Fact]
    public void ComparisonsOfDistinctArgumentsFormOneRuleAndRepeatedOnesOneRuleEach()
    {
        var calls = Compile(new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            Syscalls =
            [
                new()
                {
                    Names = ["clone"], Action = "SCMP_ACT_ALLOW",
                    Args = [new() { Index = 0, Value = 0x7E020000, ValueTwo = 0, Op = "SCMP_CMP_MASKED_EQ" }, new() { Index = 1, Value = 5, Op = "SCMP_CMP_NE" }],
                },
                new()
                {
                    Names = ["personality"], Action = "SCMP_ACT_ALLOW",
                    Args = [new() { Index = 0, Value = 8, Op = "SCMP_CMP_EQ" }, new() { Index = 0, Value = 0xffffffff, Op = "SCMP_CMP_EQ" }],
                },
            ],
        });
        Assert.Equal(
        [
            $"rule 0x{Allow:x} clone(56) [0 op7 7e020000 0] [1 op1 5 0]",
            $"rule 0x{Allow:x} personality(135) [0 op4 8 0]",
            $"rule 0x{Allow:x} personality(135) [0 op4 ffffffff 0]",
        ], calls.Where(call => call.StartsWith("rule", StringComparison.Ordinal)));
    }

    [Fact]
    public void ALongProfileAsksForABinaryTree()
    {
        var calls = Compile(RuntimeDefaultSeccomp.For("x64", Capabilities.Default));
        Assert.Contains($"attr {Optimize}=2", calls);
        Assert.Contains($"rule 0x{Allow:x} socket(41) [0 op2 26 0]", calls);
        Assert.Contains("rule 0x50026 clone3(435)", calls);
    }

    [Theory]
    [InlineData("SCMP_ACT_NOTIFY", "needs a seccomp agent")]
    [InlineData("SCMP_ACT_NOPE", "is not one of the SCMP_ACT_* names")]
    [InlineData("", "no defaultAction")]
    public void AProfileTheRulesRefuseIsAnInvalidSpec(string defaultAction, string expected)
    {
        var error = Assert.Throws<InvalidSpecException>(() => Compile(new LinuxSeccomp { DefaultAction = defaultAction }));
        Assert.Contains(expected, error.Message);
    }

    /// <summary>The names of RuntimeDefault that Debian 12's libseccomp 2.5.4 does not know: system calls newer than it.</summary>
    private static readonly HashSet<string> s_newerThanLibseccomp =
    [
        "getxattrat", "listmount", "listxattrat", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mseal",
        "removexattrat", "riscv_hwprobe", "setxattrat", "statmount", "uretprobe",
    ];

    [Fact]
    public void EveryRuntimeDefaultNameIsASystemCallThisLibseccompKnowsOrANewerOne()
    {
        var context = new LibSeccompContext();
        var names = RuntimeDefaultSeccomp.For("x64", Capabilities.All).Syscalls!.SelectMany(rule => rule.Names).Distinct();
        // libseccomp numbers the calls of other architectures too (negative pseudo numbers), so only the newer ones are unknown.
        var unknown = names.Where(name => context.ResolveSyscall(name) is null).ToHashSet();
        Assert.Subset(s_newerThanLibseccomp, unknown);
        Assert.NotNull(context.ResolveSyscall("mkdir"));
    }
}
