using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    /// <summary>One argument comparison of a libseccomp rule (struct scmp_arg_cmp).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SeccompArgCompare
    {
        /// <summary>The argument's index, 0..5.</summary>
        public uint Argument;

        /// <summary>enum scmp_compare: SCMP_CMP_NE = 1 ... SCMP_CMP_MASKED_EQ = 7.</summary>
        public int Operator;

        public ulong DatumA;
        public ulong DatumB;
    }

    // libseccomp (seccomp.h, 2.5): builds a BPF filter from rules and loads it with seccomp(2). Its calls
    // return -errno rather than setting errno; the wrappers turn that into an ErrnoException here.
    internal static unsafe partial class Sys
    {
        /// <summary>enum scmp_filter_attr values the shim sets.</summary>
        internal const int SCMP_FLTATR_CTL_NNP = 3;
        internal const int SCMP_FLTATR_CTL_TSYNC = 4;
        internal const int SCMP_FLTATR_CTL_LOG = 6;
        internal const int SCMP_FLTATR_CTL_SSB = 7;
        internal const int SCMP_FLTATR_CTL_OPTIMIZE = 8;

        [LibraryImport(Libraries.Libseccomp, EntryPoint = "seccomp_init", SetLastError = true)]
        private static partial nint seccomp_init(uint defaultAction);

        [LibraryImport(Libraries.Libseccomp, EntryPoint = "seccomp_arch_resolve_name", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial uint seccomp_arch_resolve_name(string name);

        [LibraryImport(Libraries.Libseccomp, EntryPoint = "seccomp_arch_add", SetLastError = true)]
        private static partial int seccomp_arch_add(nint context, uint arch);

        [LibraryImport(Libraries.Libseccomp, EntryPoint = "seccomp_attr_set", SetLastError = true)]
        private static partial int seccomp_attr_set(nint context, int attribute, uint value);

        [LibraryImport(Libraries.Libseccomp, EntryPoint = "seccomp_syscall_resolve_name", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int seccomp_syscall_resolve_name(string name);

        [LibraryImport(Libraries.Libseccomp, EntryPoint = "seccomp_rule_add_array", SetLastError = true)]
        private static partial int seccomp_rule_add_array(nint context, uint action, int syscall, uint count, SeccompArgCompare* args);

        [LibraryImport(Libraries.Libseccomp, EntryPoint = "seccomp_load", SetLastError = true)]
        private static partial int seccomp_load(nint context);

        /// <summary>A new filter context whose default is <paramref name="defaultAction"/> (an SCMP_ACT_* value) for the native architecture.</summary>
        internal static nint SeccompInit(uint defaultAction)
        {
            nint context = seccomp_init(defaultAction);
            return context != 0 ? context : throw new ErrnoException(Errno.EINVAL, "seccomp_init", $"default action 0x{defaultAction:x}");
        }

        /// <summary>The libseccomp token of an architecture name (<c>x86_64</c>); 0 when this libseccomp does not know it.</summary>
        internal static uint SeccompArchitecture(string name) => seccomp_arch_resolve_name(name);

        /// <summary>Adds an architecture to the filter; one already there (the native one) is fine.</summary>
        internal static void SeccompAddArchitecture(nint context, uint arch, string name)
        {
            int result = seccomp_arch_add(context, arch);
            if (result < 0 && result != -(int)Errno.EEXIST)
            {
                throw new ErrnoException((Errno)(-result), "seccomp_arch_add", name);
            }
        }

        internal static void SeccompSetAttribute(nint context, int attribute, uint value)
        {
            int result = seccomp_attr_set(context, attribute, value);
            if (result < 0)
            {
                throw new ErrnoException((Errno)(-result), "seccomp_attr_set", $"attribute {attribute} = {value}");
            }
        }

        /// <summary>The native number of a system call; null when this libseccomp does not know the name.</summary>
        internal static int? SeccompSyscall(string name)
        {
            int number = seccomp_syscall_resolve_name(name);
            return number == -1 ? null : number;
        }

        /// <summary>A rule: <paramref name="syscall"/> takes <paramref name="action"/> when every comparison holds (on every architecture of the filter).</summary>
        internal static void SeccompAddRule(nint context, uint action, int syscall, ReadOnlySpan<SeccompArgCompare> args, string name)
        {
            fixed (SeccompArgCompare* first = args)
            {
                int result = seccomp_rule_add_array(context, action, syscall, (uint)args.Length, first);
                if (result < 0)
                {
                    throw new ErrnoException((Errno)(-result), "seccomp_rule_add", name);
                }
            }
        }

        /// <summary>Loads the filter into the kernel for this process (all its threads with CTL_TSYNC).</summary>
        internal static void SeccompLoad(nint context)
        {
            int result = seccomp_load(context);
            if (result < 0)
            {
                throw new ErrnoException((Errno)(-result), "seccomp_load", null);
            }
        }
    }
}
