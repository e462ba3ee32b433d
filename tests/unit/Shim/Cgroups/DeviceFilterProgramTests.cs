using Berth.Api.Shim;
using Berth.Shim.Cgroups;
using Berth.Shim.Cgroups.V2;

namespace Berth.Shim.Tests.Unit.Cgroups;

/// <summary>The cgroup v2 device filter, instruction by instruction, per kind of rule.</summary>
public sealed class DeviceFilterProgramTests
{
    /// <summary>The prologue every program starts with: type, access, major, minor into r2..r5.</summary>
    private static readonly string[] s_prologue =
    [
        "ldxw r2 = [r1+0]", "and32 r2 0xffff", "ldxw r3 = [r1+0]", "rsh32 r3 16", "ldxw r4 = [r1+4]", "ldxw r5 = [r1+8]",
    ];

    private static List<string> Disassemble(params DeviceRule[] rules) =>
        DeviceFilterProgram.Generate(rules).Select(Text).ToList();

    private static string Text(DeviceFilterProgram.Instruction i) => i.Code switch
    {
        0x61 => $"ldxw r{i.Destination} = [r{i.Source}+{i.Offset}]",
        0x54 => $"and32 r{i.Destination} 0x{i.Immediate:x}",
        0x74 => $"rsh32 r{i.Destination} {i.Immediate}",
        0xb4 => $"mov32 r{i.Destination} {i.Immediate}",
        0xbc => $"mov32 r{i.Destination} r{i.Source}",
        0x56 => $"jne32 r{i.Destination} {i.Immediate} +{i.Offset}",
        0x5e => $"jne32 r{i.Destination} r{i.Source} +{i.Offset}",
        0x16 => $"jeq32 r{i.Destination} {i.Immediate} +{i.Offset}",
        0x95 => "exit",
        _ => $"? 0x{i.Code:x}",
    };

    private static readonly DeviceRule s_denyAll = DeviceRule.DenyAll;

    [Fact]
    public void DenyAllAloneDeniesEverything()
    {
        Assert.Equal([.. s_prologue, "mov32 r0 0", "exit"], Disassemble(s_denyAll));
    }

    [Fact]
    public void AnAllowOfOneDeviceWithEveryAccessComparesTypeMajorAndMinor()
    {
        Assert.Equal(
            [.. s_prologue, "jne32 r2 2 +4", "jne32 r4 1 +3", "jne32 r5 3 +2", "mov32 r0 1", "exit", "mov32 r0 0", "exit"],
            Disassemble(s_denyAll, new DeviceRule(true, 'c', 1, 3, "rwm")));
    }

    [Fact]
    public void AnAllowOfSomeAccessMustCoverAllThatIsAsked()
    {
        // r1 = access & (read | write); if r1 != access the rule does not hold.
        Assert.Equal(
            [.. s_prologue, "jne32 r2 1 +6", "mov32 r1 r3", "and32 r1 0x6", "jne32 r1 r3 +3", "jne32 r4 8 +2", "mov32 r0 1", "exit", "mov32 r0 0", "exit"],
            Disassemble(s_denyAll, new DeviceRule(true, 'b', 8, null, "rw")));
    }

    [Fact]
    public void AWildcardRuleComparesOnlyWhatItNames()
    {
        // runc's "c *:* m": any character device may be made, none opened.
        Assert.Equal(
            [.. s_prologue, "jne32 r2 2 +5", "mov32 r1 r3", "and32 r1 0x1", "jne32 r1 r3 +2", "mov32 r0 1", "exit", "mov32 r0 0", "exit"],
            Disassemble(s_denyAll, new DeviceRule(true, 'c', null, null, "m")));
    }

    [Fact]
    public void ADenyRuleHoldsForAnyPartOfTheAccessAndALaterRuleIsCheckedFirst()
    {
        Assert.Equal(
        [
            .. s_prologue,
            // deny c 1:3 w, checked first: "if access & write == 0, not this rule".
            "jne32 r2 2 +7", "mov32 r1 r3", "and32 r1 0x4", "jeq32 r1 0 +4", "jne32 r4 1 +3", "jne32 r5 3 +2", "mov32 r0 0", "exit",
            // then allow c 1:3 rwm.
            "jne32 r2 2 +4", "jne32 r4 1 +3", "jne32 r5 3 +2", "mov32 r0 1", "exit",
            "mov32 r0 0", "exit",
        ], Disassemble(s_denyAll, new DeviceRule(true, 'c', 1, 3, "rwm"), new DeviceRule(false, 'c', 1, 3, "w")));
    }

    [Fact]
    public void AnAllRuleResetsTheListAsV1ReadsIt()
    {
        // A privileged container: deny all, then allow all; nothing before the last "a" counts.
        Assert.Equal([.. s_prologue, "mov32 r0 1", "exit"],
            Disassemble(s_denyAll, new DeviceRule(true, 'c', 1, 3, "rwm"), new DeviceRule(true, 'a', null, null, "rwm")));
        // No "a" at all: the cgroup starts from the root's "allow everything".
        Assert.Equal("mov32 r0 1", Disassemble(new DeviceRule(false, 'b', 7, 0, "rwm"))[^2]);
    }

    [Fact]
    public void TheSpecsListGetsRuncsDefaultsAfterItAndEncodesAsTheKernelReadsIt()
    {
        var rules = CgroupConversions.DeviceRules([new LinuxDeviceCgroup { Allow = false, Access = "rwm" }]);
        var program = DeviceFilterProgram.Generate(rules);
        Assert.Equal(0x61UL | (2UL | 1UL << 4) << 8, DeviceFilterProgram.Encode(program)[0]);
        // jne32 r4, 136, +off: code 0x56, dst 4, offset in bits 16..31, immediate in the high half.
        var jump = program.First(i => i.Code == 0x56 && i.Destination == 4 && i.Immediate == 136);
        Assert.Equal(0x56UL | 4UL << 8 | (ulong)(ushort)jump.Offset << 16 | 136UL << 32, jump.Encoded);
        Assert.Throws<InvalidSpecException>(() => DeviceFilterProgram.Generate([s_denyAll, new DeviceRule(true, 'c', 1L << 33, 0, "r")]));
    }
}
