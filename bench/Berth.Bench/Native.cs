using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Berth.Bench;

/// <summary>mount(2) and umount2(2), for the bare overlay mount of the physical floor.</summary>
internal static partial class Native
{
    public static void Mount(string source, string target, string type, string data)
    {
        if (mount(source, target, type, 0, data) != 0)
        {
            throw new IOException($"mount {type} on {target}: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
        }
    }

    public static void Unmount(string target)
    {
        if (umount2(target, 0) != 0)
        {
            throw new IOException($"umount {target}: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string source, string target, string type, nuint flags, string data);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int umount2(string target, int flags);
}

internal static partial class Native
{
    /// <summary>sync(2): written data goes to disk before a timed pull, for both runtimes alike.</summary>
    public static void Sync() => sync();

    [LibraryImport("libc")]
    private static partial void sync();
}

internal static partial class Native
{
    /// <summary>
    /// CPU time a process has used, nanoseconds, all its threads (those that exited too): its process CPU-time
    /// clock, as clock_getcpuclockid(3) makes it ((~pid &lt;&lt; 3) | CPUCLOCK_SCHED), read with clock_gettime(2).
    /// /proc/PID/stat counts in 10 ms ticks: an idle daemon spends a handful of them in 30 s, too few to compare.
    /// </summary>
    public static long ProcessCpuNanoseconds(int pid)
    {
        int clock = (~pid << 3) | 2;
        if (clock_gettime(clock, out var time) != 0)
        {
            throw new IOException($"clock_gettime of process {pid}'s CPU clock: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
        }
        return (time.Seconds * 1_000_000_000) + time.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int clock_gettime(int clock, out TimeSpec time);
}
