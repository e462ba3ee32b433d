using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        /// <summary>AT_FDCWD as a handle (never closed), for the *at calls given a path relative to the working directory.</summary>
        internal static readonly SafeFileHandle AtFdCwd = new((nint)(-100), ownsHandle: false);

        private const int AT_SYMLINK_NOFOLLOW = 0x100;
        private const int AT_REMOVEDIR = 0x200;

        /// <summary>An empty path means the descriptor itself (statx, mount_setattr, move_mount).</summary>
        private const int AT_EMPTY_PATH = 0x1000;
    }
}
