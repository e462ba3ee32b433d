using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Berth.Tests.E2e.Fixtures;

/// <summary>The two kernel calls the fixtures need that .NET does not offer: a chosen signal, and a lazy unmount.</summary>
internal static partial class LibC
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int SIGCONT = 18;
    public const int SIGSTOP = 19;
    private const int MNT_DETACH = 2;
    private const int ESRCH = 3;
    private const int EINVAL = 22;
    private const int ENOENT = 2;

    /// <summary>Sends a signal; a process that is already gone is not an error.</summary>
    public static void Signal(int pid, int signal)
    {
        if (kill(pid, signal) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != ESRCH)
        {
            throw new IOException($"kill({pid}, {signal}): {new Win32Exception(errno).Message}");
        }
    }

    /// <summary>Detaches a mount; a path that is no longer a mount point is not an error.</summary>
    public static void UnmountDetached(string path)
    {
        if (umount2(path, MNT_DETACH) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != EINVAL && errno != ENOENT)
        {
            throw new IOException($"umount2({path}, MNT_DETACH): {new Win32Exception(errno).Message}");
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int umount2(string target, int flags);
}
