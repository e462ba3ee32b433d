using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int mkdirat(SafeFileHandle dirfd, string path, uint mode);

        /// <summary>mkdirat(2); the mode is masked by the umask.</summary>
        internal static void MkdirAt(SafeFileHandle dir, string path, UnixFileMode mode)
        {
            if (mkdirat(dir, path, (uint)mode) != 0)
            {
                throw Fail("mkdirat", path);
            }
        }
    }
}
