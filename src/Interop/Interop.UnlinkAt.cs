using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int unlinkat(SafeFileHandle dirfd, string path, int flags);

        /// <summary>unlinkat(2) of a non-directory (EISDIR for a directory).</summary>
        internal static void UnlinkAt(SafeFileHandle dir, string path)
        {
            if (unlinkat(dir, path, 0) != 0)
            {
                throw Fail("unlinkat", path);
            }
        }

        /// <summary>unlinkat(2) with AT_REMOVEDIR: removes an empty directory.</summary>
        internal static void RmdirAt(SafeFileHandle dir, string path)
        {
            if (unlinkat(dir, path, AT_REMOVEDIR) != 0)
            {
                throw Fail("unlinkat", path);
            }
        }
    }
}
