using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth.ImageService;

internal static partial class Interop
{
    /// <summary>The S_IFMT part of st_mode.</summary>
    internal enum FileType : uint
    {
        Fifo = 0x1000,
        CharacterDevice = 0x2000,
        Directory = 0x4000,
        BlockDevice = 0x6000,
        RegularFile = 0x8000,
        SymbolicLink = 0xA000,
        Socket = 0xC000,
    }

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

        /// <summary>glibc's gnu_dev_makedev: 12+20 bits of major, 8+24 bits of minor, in a 64-bit dev_t.</summary>
        internal static ulong MakeDev(uint major, uint minor) =>
            ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) |
            ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);
    }
}
