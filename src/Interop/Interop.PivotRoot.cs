using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        // glibc has no pivot_root wrapper: the raw system call.
        private static readonly long SYS_pivot_root = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 ? 41 : 155;

        [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial long syscall_pivot_root(long number, string newRoot, string putOld);

        internal static void PivotRoot(string newRoot, string putOld)
        {
            if (syscall_pivot_root(SYS_pivot_root, newRoot, putOld) != 0)
            {
                throw Fail("pivot_root", newRoot);
            }
        }
    }
}
