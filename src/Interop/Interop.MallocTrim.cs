using System.Runtime;
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

        /// <summary>
        /// Gives a process's free memory back to the kernel: a compacting full collection (the large-object heap
        /// too) returns the managed heap's free space, then <see cref="MallocTrim"/> glibc's. Blocking; for a
        /// quiet moment, never a hot path (berthd after bursts of allocation, a shim after its first requests).
        /// </summary>
        internal static void ReturnFreeMemory()
        {
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            MallocTrim();
        }
    }
}
