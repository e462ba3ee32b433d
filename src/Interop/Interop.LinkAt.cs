using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int linkat(SafeFileHandle olddirfd, string oldpath, SafeFileHandle newdirfd, string newpath, int flags);

        /// <summary>
        /// linkat(2) with no flags: a symlink at <paramref name="oldPath"/> is linked itself, never followed.
        /// </summary>
        internal static void LinkAt(SafeFileHandle oldDir, string oldPath, SafeFileHandle newDir, string newPath)
        {
            if (linkat(oldDir, oldPath, newDir, newPath, 0) != 0)
            {
                throw Fail("linkat", newPath);
            }
        }
    }
}
