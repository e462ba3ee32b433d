using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "fchmodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int fchmodat(SafeFileHandle dirfd, string path, uint mode, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "fchmod", SetLastError = true)]
        private static partial int fchmod(SafeFileHandle fd, uint mode);

        /// <summary>
        /// fchmodat(2) with no flags, so a symlink at <paramref name="path"/> would be followed: call it only on a name
        /// just made as a non-symlink (mknodat, mkdirat) in a directory no one else writes.
        /// </summary>
        internal static void FChmodAt(SafeFileHandle dir, string path, UnixFileMode mode)
        {
            if (fchmodat(dir, path, (uint)mode, 0) != 0)
            {
                throw Fail("fchmodat", path);
            }
        }

        /// <summary>fchmod(2): all 12 permission bits, setuid, setgid and sticky included, umask not applied.</summary>
        internal static void FChmod(SafeFileHandle fd, UnixFileMode mode, string displayPath)
        {
            if (fchmod(fd, (uint)mode) != 0)
            {
                throw Fail("fchmod", displayPath);
            }
        }
    }
}
