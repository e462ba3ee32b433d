using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Berth.Tests.E2e.Fixtures;

/// <summary>The kernel calls the fixtures need that .NET does not offer: a chosen signal, a tmpfs mount and a lazy unmount, an atomic exchange of two names, a FIFO.</summary>
internal static partial class LibC
{
    public const int SIGHUP = 1;
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

    /// <summary>Mounts a small tmpfs at <paramref name="target"/> (a test's own submount; the test unmounts it).</summary>
    public static void MountTmpfs(string target)
    {
        if (mount("tmpfs", target, "tmpfs", 0, "size=1m") != 0)
        {
            throw new IOException($"mount tmpfs on {target}: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
        }
    }

    /// <summary>renameat2(RENAME_EXCHANGE): the two names swap what they name, atomically (a directory and a symbolic link too).</summary>
    public static void Exchange(string first, string second)
    {
        const int AT_FDCWD = -100;
        const uint RENAME_EXCHANGE = 2;
        if (renameat2(AT_FDCWD, first, AT_FDCWD, second, RENAME_EXCHANGE) != 0)
        {
            throw new IOException($"renameat2({first}, {second}, RENAME_EXCHANGE): {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
        }
    }

    /// <summary>mkfifo(3) with mode 0600: 0, or -1 with errno set.</summary>
    public static int MakeFifo(string path) => mkfifo(path, 0b110_000_000);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkfifo(string path, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string source, string target, string type, ulong flags, string data);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int umount2(string target, int flags);
}
