namespace Berth.Shim.Cgroups.V2;

/// <summary>
/// The cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program that the kernel runs on every
/// open or mknod of a device node by a process of the cgroup, generated here from the same rule list
/// v1 writes to devices.allow and devices.deny (<see cref="CgroupConversions.DeviceRules"/>). There is
/// no library for this in .NET, and none is needed: runc (libcontainer devicefilter, after crun's
/// ebpf.c) and youki generate the same small program themselves. Its shape:
/// <code>
/// r2 = ctx->access_type &amp; 0xffff   (BPF_DEVCG_DEV_BLOCK 1, BPF_DEVCG_DEV_CHAR 2)
/// r3 = ctx->access_type >> 16      (BPF_DEVCG_ACC_MKNOD 1, READ 2, WRITE 4)
/// r4 = ctx->major; r5 = ctx->minor
/// one block per rule, the last rule first; a block whose conditions hold returns its verdict:
///   if r2 != TYPE goto next; (allow) if r3 &amp; ACCESS != r3 goto next; (deny) if r3 &amp; ACCESS == 0 goto next;
///   if r4 != MAJOR goto next; if r5 != MINOR goto next; r0 = allow ? 1 : 0; exit
/// r0 = the default (the last "a" rule's verdict); exit
/// </code>
/// A later rule wins over an earlier one, as in v1; a rule of type "a" resets the list. An allow
/// rule must cover the whole access asked for (v1's match_exception), a deny rule any part of it
/// (match_exception_partial). Comparisons are 32-bit (BPF_JMP32) as the context's fields are.
/// </summary>
internal static class DeviceFilterProgram
{
    /// <summary>The program's license, as the kernel wants one: it calls no GPL-only helper.</summary>
    public const string License = "Apache";

    private const int DeviceBlock = 1, DeviceChar = 2;
    private const int AccessMknod = 1, AccessRead = 2, AccessWrite = 4, AccessAll = 7;

    // Instruction classes and operations of the eBPF instruction set (include/uapi/linux/bpf.h, bpf_common.h).
    private const byte LdxMemWord = 0x61;       // BPF_LDX | BPF_MEM | BPF_W
    private const byte And32Imm = 0x54;         // BPF_ALU | BPF_AND | BPF_K
    private const byte Rsh32Imm = 0x74;         // BPF_ALU | BPF_RSH | BPF_K
    private const byte Mov32Imm = 0xb4;         // BPF_ALU | BPF_MOV | BPF_K
    private const byte Mov32Reg = 0xbc;         // BPF_ALU | BPF_MOV | BPF_X
    private const byte Jne32Imm = 0x56;         // BPF_JMP32 | BPF_JNE | BPF_K
    private const byte Jne32Reg = 0x5e;         // BPF_JMP32 | BPF_JNE | BPF_X
    private const byte Jeq32Imm = 0x16;         // BPF_JMP32 | BPF_JEQ | BPF_K
    private const byte Exit = 0x95;             // BPF_JMP | BPF_EXIT

    /// <summary>One eBPF instruction (struct bpf_insn).</summary>
    internal readonly record struct Instruction(byte Code, byte Destination, byte Source, short Offset, int Immediate)
    {
        /// <summary>The 8 bytes the kernel reads: code, dst_reg in the low nibble and src_reg in the high one, off, imm (little-endian).</summary>
        public ulong Encoded =>
            Code | ((ulong)(Destination | (Source << 4)) << 8) | ((ulong)(ushort)Offset << 16) | ((ulong)(uint)Immediate << 32);
    }

    /// <summary>The program for <paramref name="rules"/> (in the order v1 would write them).</summary>
    public static IReadOnlyList<Instruction> Generate(IReadOnlyList<DeviceRule> rules)
    {
        int reset = -1;
        for (int i = 0; i < rules.Count; i++)
        {
            if (rules[i].Type == 'a')
            {
                reset = i;
            }
        }
        // With no "a" rule the cgroup starts from what a new v1 cgroup inherits at the root: everything allowed.
        bool defaultAllow = reset < 0 || rules[reset].Allow;
        var program = new List<Instruction>
        {
            new(LdxMemWord, 2, 1, 0, 0),
            new(And32Imm, 2, 0, 0, 0xffff),
            new(LdxMemWord, 3, 1, 0, 0),
            new(Rsh32Imm, 3, 0, 0, 16),
            new(LdxMemWord, 4, 1, 4, 0),
            new(LdxMemWord, 5, 1, 8, 0),
        };
        for (int i = rules.Count - 1; i > reset; i--)
        {
            program.AddRange(Block(rules[i]));
        }
        program.Add(new(Mov32Imm, 0, 0, 0, defaultAllow ? 1 : 0));
        program.Add(new(Exit, 0, 0, 0, 0));
        return program;
    }

    /// <summary>The kernel's form: the instructions' 8-byte encodings.</summary>
    public static ulong[] Encode(IReadOnlyList<Instruction> program) => program.Select(instruction => instruction.Encoded).ToArray();

    /// <summary>One rule's block: its conditions jump past the block's end when they fail.</summary>
    private static List<Instruction> Block(DeviceRule rule)
    {
        int access = Access(rule.Access);
        // Each condition is a (code, dst, src, imm) whose jump offset is filled in below; "and" needs a copy of r3 in r1 first.
        var block = new List<Instruction>();
        var jumps = new List<int>();
        void Jump(byte code, byte dst, byte src, int imm)
        {
            jumps.Add(block.Count);
            block.Add(new(code, dst, src, 0, imm));
        }
        if (rule.Type != 'a')
        {
            Jump(Jne32Imm, 2, 0, rule.Type == 'b' ? DeviceBlock : DeviceChar);
        }
        if (access != AccessAll)
        {
            block.Add(new(Mov32Reg, 1, 3, 0, 0));
            block.Add(new(And32Imm, 1, 0, 0, access));
            if (rule.Allow)
            {
                Jump(Jne32Reg, 1, 3, 0);
            }
            else
            {
                Jump(Jeq32Imm, 1, 0, 0);
            }
        }
        if (rule.Major is { } major)
        {
            Jump(Jne32Imm, 4, 0, Number(major, rule));
        }
        if (rule.Minor is { } minor)
        {
            Jump(Jne32Imm, 5, 0, Number(minor, rule));
        }
        block.Add(new(Mov32Imm, 0, 0, 0, rule.Allow ? 1 : 0));
        block.Add(new(Exit, 0, 0, 0, 0));
        foreach (int at in jumps)
        {
            // Past the block's last instruction: offsets count from the instruction after the jump.
            block[at] = block[at] with { Offset = checked((short)(block.Count - at - 1)) };
        }
        return block;
    }

    /// <summary>A device number as the 32-bit immediate a JMP32 compares with the context's u32 field.</summary>
    private static int Number(long value, DeviceRule rule) =>
        value <= uint.MaxValue ? unchecked((int)(uint)value) : throw new InvalidSpecException($"device rule {rule.Line}: {value} is not a device number");

    private static int Access(string access) =>
        access.Sum(c => c switch { 'r' => AccessRead, 'w' => AccessWrite, 'm' => AccessMknod, _ => 0 });
}
