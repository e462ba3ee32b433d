using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [StructLayout(LayoutKind.Sequential)]
        private struct TimeSpec
        {
            public long Seconds;
            public long Nanoseconds;

            public static TimeSpec From(DateTimeOffset time)
            {
                long ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
                long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest);
                if (rest < 0)
                {
                    seconds--;
                    rest += TimeSpan.TicksPerSecond;
                }
                return new TimeSpec { Seconds = seconds, Nanoseconds = rest * TimeSpan.NanosecondsPerTick };
            }
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int utimensat(SafeFileHandle dirfd, string path, TimeSpec* times, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "futimens", SetLastError = true)]
        private static unsafe partial int futimens(SafeFileHandle fd, TimeSpec* times);

        /// <summary>utimensat(2) with AT_SYMLINK_NOFOLLOW: a symlink gets the times itself.</summary>
        internal static unsafe void LUtimensAt(SafeFileHandle dir, string path, DateTimeOffset accessTime, DateTimeOffset modificationTime)
        {
            TimeSpec* times = stackalloc TimeSpec[2];
            times[0] = TimeSpec.From(accessTime);
            times[1] = TimeSpec.From(modificationTime);
            if (utimensat(dir, path, times, AT_SYMLINK_NOFOLLOW) != 0)
            {
                throw Fail("utimensat", path);
            }
        }

        /// <summary>futimens(2).</summary>
        internal static unsafe void FUtimens(SafeFileHandle fd, DateTimeOffset accessTime, DateTimeOffset modificationTime, string displayPath)
        {
            TimeSpec* times = stackalloc TimeSpec[2];
            times[0] = TimeSpec.From(accessTime);
            times[1] = TimeSpec.From(modificationTime);
            if (futimens(fd, times) != 0)
            {
                throw Fail("futimens", displayPath);
            }
        }
    }
}
