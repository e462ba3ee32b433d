using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    internal static unsafe partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "prlimit", SetLastError = true)]
        private static partial int prlimit(int pid, int resource, ulong* newLimit, ulong* oldLimit);

        /// <summary>Sets an rlimit of the calling process (struct rlimit64: soft, then hard).</summary>
        internal static void SetRlimit(int resource, ulong soft, ulong hard, string name)
        {
            ulong* limit = stackalloc ulong[2];
            limit[0] = soft;
            limit[1] = hard;
            if (prlimit(0, resource, limit, null) != 0)
            {
                throw Fail("prlimit", name);
            }
        }
    }
}
