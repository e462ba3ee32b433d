using System.Runtime.InteropServices;

namespace Berth.ImageService;

internal static partial class Interop
{
    internal static partial class Sys
    {
        private const int MNT_DETACH = 2;

        [LibraryImport(Libraries.Libc, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int mount(string source, string target, string fileSystemType, ulong flags, string? data);

        [LibraryImport(Libraries.Libc, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int umount2(string target, int flags);

        /// <summary>mount(2) of a tmpfs, e.g. a pod's /dev/shm, with MS_NOSUID | MS_NODEV | MS_NOEXEC.</summary>
        internal static void MountTmpfs(string target, string options)
        {
            const ulong MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8;
            if (mount("shm", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) != 0)
            {
                throw Fail("mount", target);
            }
        }

        /// <summary>umount2(2) with MNT_DETACH; false when nothing is mounted there (EINVAL) or the path is gone (ENOENT).</summary>
        internal static bool UnmountDetached(string target)
        {
            if (umount2(target, MNT_DETACH) == 0)
            {
                return true;
            }
            return LastErrno() is Errno.EINVAL or Errno.ENOENT ? false : throw Fail("umount2", target);
        }
    }
}
