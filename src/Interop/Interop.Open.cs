using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    internal static unsafe partial class Sys
    {
        internal const int O_RDONLY = 0;
        internal const int O_WRONLY = 1;
        internal const int O_RDWR = 2;
        internal const int O_CREAT = 0x40;
        internal const int O_EXCL = 0x80;
        internal const int O_NOCTTY = 0x100;
        internal const int O_TRUNC = 0x200;
        internal const int O_APPEND = 0x400;
        internal const int O_PATH = 0x200000;

        // O_DIRECTORY and O_NOFOLLOW differ between asm-generic (x86-64) and arm64.
        internal static readonly int O_DIRECTORY = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 ? 0x4000 : 0x10000;
        internal static readonly int O_NOFOLLOW = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 ? 0x8000 : 0x20000;

        [LibraryImport(Libraries.Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int open(string path, int flags, uint mode);

        /// <summary>open(2), always close-on-exec; returns the descriptor.</summary>
        internal static int Open(string path, int flags, uint mode = 0)
        {
            while (true)
            {
                int fd = open(path, flags | O_CLOEXEC, mode);
                if (fd >= 0)
                {
                    return fd;
                }
                if (LastErrno() != Errno.EINTR)
                {
                    throw Fail("open", path);
                }
            }
        }

        /// <summary>open(2), or -1 with the errno when it fails.</summary>
        internal static int TryOpen(string path, int flags, out Errno error, uint mode = 0)
        {
            int fd = open(path, flags | O_CLOEXEC, mode);
            error = fd < 0 ? LastErrno() : 0;
            return fd;
        }
    }
}
