using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    /// <summary>open(2) flags, named portably; <see cref="Sys.ToNative(OpenFlags)"/> maps them to this architecture's bits.</summary>
    [Flags]
    internal enum OpenFlags
    {
        ReadOnly = 0,
        WriteOnly = 1 << 0,
        Create = 1 << 1,
        Exclusive = 1 << 2,
        Directory = 1 << 3,
        NoFollow = 1 << 4,
        Path = 1 << 5,
        CloseOnExec = 1 << 6,
        Append = 1 << 7,
        NonBlocking = 1 << 8,
    }

    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int openat(SafeFileHandle dirfd, string path, int flags, uint mode);

        /// <summary>openat(2); <paramref name="mode"/> counts only with <see cref="OpenFlags.Create"/> (and is masked by the umask).</summary>
        internal static SafeFileHandle OpenAt(SafeFileHandle dir, string path, OpenFlags flags, UnixFileMode mode = 0)
        {
            int native = ToNative(flags);
            while (true)
            {
                int fd = openat(dir, path, native, (uint)mode);
                if (fd >= 0)
                {
                    return new SafeFileHandle(fd, ownsHandle: true);
                }
                if (LastErrno() != Errno.EINTR)
                {
                    throw Fail("openat", path);
                }
            }
        }

        internal static SafeFileHandle Open(string path, OpenFlags flags) => OpenAt(AtFdCwd, path, flags);

        // O_DIRECTORY and O_NOFOLLOW are the two flags whose values differ between the asm-generic
        // layout (x86-64, riscv64, ...) and arm/arm64.
        private static readonly bool s_armLayout =
            RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;

        internal static int ToNative(OpenFlags flags)
        {
            int native = 0;
            if ((flags & OpenFlags.WriteOnly) != 0) native |= 0x1;          // O_WRONLY
            if ((flags & OpenFlags.Create) != 0) native |= 0x40;            // O_CREAT
            if ((flags & OpenFlags.Exclusive) != 0) native |= 0x80;         // O_EXCL
            if ((flags & OpenFlags.Directory) != 0) native |= s_armLayout ? 0x4000 : 0x10000;  // O_DIRECTORY
            if ((flags & OpenFlags.NoFollow) != 0) native |= s_armLayout ? 0x8000 : 0x20000;   // O_NOFOLLOW
            if ((flags & OpenFlags.Path) != 0) native |= 0x200000;          // O_PATH
            if ((flags & OpenFlags.CloseOnExec) != 0) native |= 0x80000;    // O_CLOEXEC
            if ((flags & OpenFlags.Append) != 0) native |= 0x400;           // O_APPEND
            if ((flags & OpenFlags.NonBlocking) != 0) native |= 0x800;      // O_NONBLOCK (the same on arm)
            return native;
        }
    }
}
