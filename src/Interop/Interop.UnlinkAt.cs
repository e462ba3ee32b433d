using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int unlinkat(SafeFileHandle dirfd, string path, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int unlink(string path);

        /// <summary>unlink(2) of a non-directory by path (no directory handle: the shim's monitor keeps to plain descriptors).</summary>
        internal static void Unlink(string path)
        {
            if (unlink(path) != 0)
            {
                throw Fail("unlink", path);
            }
        }

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
