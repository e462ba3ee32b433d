using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    internal static unsafe partial class Sys
    {
        private const int CLOCK_REALTIME = 0;
        private const int CLOCK_MONOTONIC = 1;

        [LibraryImport(Libraries.Libc, EntryPoint = "clock_gettime")]
        private static partial int clock_gettime(int clock, long* timespec);

        /// <summary>Wall-clock time as Unix nanoseconds.</summary>
        internal static long RealtimeNanos()
        {
            long* ts = stackalloc long[2];
            clock_gettime(CLOCK_REALTIME, ts);
            return ts[0] * 1_000_000_000L + ts[1];
        }

        /// <summary>Monotonic milliseconds, for deadlines.</summary>
        internal static long MonotonicMillis()
        {
            long* ts = stackalloc long[2];
            clock_gettime(CLOCK_MONOTONIC, ts);
            return ts[0] * 1000L + ts[1] / 1_000_000L;
        }
    }
}
