using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "malloc_trim")]
        private static partial int malloc_trim(nuint pad);

        /// <summary>Gives glibc's free heap memory back to the kernel.</summary>
        internal static void MallocTrim() => malloc_trim(0);
    }
}
