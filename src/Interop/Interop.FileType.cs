namespace Berth;

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
        /// <summary>glibc's gnu_dev_makedev: 12+20 bits of major, 8+24 bits of minor, in a 64-bit dev_t.</summary>
        internal static ulong MakeDev(uint major, uint minor) =>
            ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) |
            ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);
    }
}
