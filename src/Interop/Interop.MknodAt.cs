using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        // mknodat is exported by glibc since 2.33 (Debian 12 has 2.36).
        [LibraryImport(Libraries.Libc, EntryPoint = "mknodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int mknodat(SafeFileHandle dirfd, string path, uint mode, ulong dev);

        /// <summary>mknodat(2) for a FIFO or a character/block device; the permission bits are masked by the umask.</summary>
        internal static void MknodAt(SafeFileHandle dir, string path, FileType type, UnixFileMode mode, uint major, uint minor)
        {
            if (type is not (FileType.Fifo or FileType.CharacterDevice or FileType.BlockDevice))
            {
                throw new ArgumentOutOfRangeException(nameof(type), type, "mknodat makes FIFOs and devices only");
            }
            if (mknodat(dir, path, (uint)type | (uint)mode, MakeDev(major, minor)) != 0)
            {
                throw Fail("mknodat", path);
            }
        }
    }
}
