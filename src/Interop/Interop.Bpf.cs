using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    // bpf(2) for cgroup v2 device filters: load a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it to
    // a cgroup directory. glibc has no wrapper; the system call's number differs between x86-64 and arm64.
    internal static unsafe partial class Sys
    {
        private const int BPF_PROG_LOAD = 5;
        private const int BPF_PROG_ATTACH = 8;
        private const uint BPF_PROG_TYPE_CGROUP_DEVICE = 15;
        private const uint BPF_CGROUP_DEVICE = 6;
        private const uint BPF_F_ALLOW_MULTI = 2;

        /// <summary>union bpf_attr for BPF_PROG_LOAD, up to expected_attach_type (and zero padding the kernel accepts).</summary>
        [StructLayout(LayoutKind.Sequential, Size = 128)]
        private struct ProgramLoadAttr
        {
            public uint ProgramType;
            public uint InstructionCount;
            public ulong Instructions;
            public ulong License;
            public uint LogLevel;
            public uint LogSize;
            public ulong LogBuffer;
        }

        /// <summary>union bpf_attr for BPF_PROG_ATTACH.</summary>
        [StructLayout(LayoutKind.Sequential, Size = 32)]
        private struct ProgramAttachAttr
        {
            public uint TargetFd;
            public uint AttachFd;
            public uint AttachType;
            public uint AttachFlags;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true)]
        private static partial nint syscall_bpf(nint number, nint command, void* attr, nuint size);

        private static nint BpfNumber => RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 321,
            Architecture.Arm64 => 280,
            _ => throw new ErrnoException(Errno.ENOSYS, "bpf", $"on {RuntimeInformation.ProcessArchitecture}"),
        };

        /// <summary>
        /// Loads a cgroup device program (8-byte instructions) and returns its descriptor. A program the
        /// verifier refuses fails with its log in the message.
        /// </summary>
        internal static SafeFileHandle LoadCgroupDeviceProgram(ReadOnlySpan<ulong> instructions, string license)
        {
            byte[] licenseText = Encoding.ASCII.GetBytes(license + "\0");
            byte[] log = new byte[16 * 1024];
            fixed (ulong* code = instructions)
            fixed (byte* licensePointer = licenseText)
            fixed (byte* logPointer = log)
            {
                var attr = new ProgramLoadAttr
                {
                    ProgramType = BPF_PROG_TYPE_CGROUP_DEVICE,
                    InstructionCount = (uint)instructions.Length,
                    Instructions = (ulong)code,
                    License = (ulong)licensePointer,
                    LogLevel = 1,
                    LogSize = (uint)log.Length,
                    LogBuffer = (ulong)logPointer,
                };
                nint fd = syscall_bpf(BpfNumber, BPF_PROG_LOAD, &attr, (nuint)sizeof(ProgramLoadAttr));
                if (fd >= 0)
                {
                    return new SafeFileHandle(fd, ownsHandle: true);
                }
                Errno errno = LastErrno();
                string verifier = Encoding.ASCII.GetString(log, 0, Math.Max(0, Array.IndexOf(log, (byte)0))).Trim();
                throw new ErrnoException(errno, "bpf(BPF_PROG_LOAD)", verifier.Length > 0 ? $"cgroup device program: {verifier}" : "cgroup device program");
            }
        }

        /// <summary>Attaches a cgroup device program to the cgroup directory <paramref name="cgroup"/> (BPF_F_ALLOW_MULTI: every attached program must allow).</summary>
        internal static void AttachCgroupDeviceProgram(SafeFileHandle cgroup, SafeFileHandle program, string what)
        {
            var attr = new ProgramAttachAttr
            {
                TargetFd = (uint)cgroup.DangerousGetHandle(),
                AttachFd = (uint)program.DangerousGetHandle(),
                AttachType = BPF_CGROUP_DEVICE,
                AttachFlags = BPF_F_ALLOW_MULTI,
            };
            if (syscall_bpf(BpfNumber, BPF_PROG_ATTACH, &attr, (nuint)sizeof(ProgramAttachAttr)) != 0)
            {
                throw Fail("bpf(BPF_PROG_ATTACH)", what);
            }
        }
    }
}
