using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "fchownat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int fchownat(SafeFileHandle dirfd, string path, uint owner, uint group, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "fchown", SetLastError = true)]
        private static partial int fchown(SafeFileHandle fd, uint owner, uint group);

        /// <summary>fchownat(2) with AT_SYMLINK_NOFOLLOW: a symlink gets the owner itself (lchown).</summary>
        internal static void LChownAt(SafeFileHandle dir, string path, uint uid, uint gid)
        {
            if (fchownat(dir, path, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
            {
                throw Fail("fchownat", path);
            }
        }

        /// <summary>fchown(2). Clears setuid/setgid bits and security.capability: set those afterwards.</summary>
        internal static void FChown(SafeFileHandle fd, uint uid, uint gid, string displayPath)
        {
            if (fchown(fd, uid, gid) != 0)
            {
                throw Fail("fchown", displayPath);
            }
        }
    }
}
