using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    /// <summary>openat2(2) RESOLVE_* flags: how the kernel may walk the path.</summary>
    [Flags]
    internal enum ResolveFlags : ulong
    {
        None = 0,
        NoXdev = 0x01,
        NoMagicLinks = 0x02,
        NoSymlinks = 0x04,
        /// <summary>Fail with EXDEV if resolution would leave the directory fd: absolute paths, "..", absolute or climbing symlinks.</summary>
        Beneath = 0x08,
        InRoot = 0x10,
    }

    internal static partial class Sys
    {
        [StructLayout(LayoutKind.Sequential)]
        private struct OpenHow
        {
            public ulong Flags;
            public ulong Mode;
            public ulong Resolve;
        }

        // glibc 2.36 has no openat2() wrapper; the syscall number is the same on every architecture (437).
        private const nint SysOpenat2 = 437;

        [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial nint syscall_openat2(nint number, nint dirfd, string path, ref OpenHow how, nuint size);

        /// <summary>
        /// openat2(2). EAGAIN (the kernel could not rule out a racing rename under RESOLVE_BENEATH) and EINTR are retried;
        /// any other failure throws, so EXDEV and ELOOP reach the caller as <see cref="ErrnoException"/>.
        /// </summary>
        internal static SafeFileHandle OpenAt2(SafeFileHandle dir, string path, OpenFlags flags, ResolveFlags resolve)
        {
            var how = new OpenHow { Flags = (ulong)(uint)ToNative(flags), Mode = 0, Resolve = (ulong)resolve };
            bool added = false;
            try
            {
                dir.DangerousAddRef(ref added);
                nint dirfd = dir.DangerousGetHandle();
                for (int attempt = 0; ; attempt++)
                {
                    nint fd = syscall_openat2(SysOpenat2, dirfd, path, ref how, (nuint)Marshal.SizeOf<OpenHow>());
                    if (fd >= 0)
                    {
                        return new SafeFileHandle(fd, ownsHandle: true);
                    }
                    Errno errno = LastErrno();
                    if (errno == Errno.EINTR || (errno == Errno.EAGAIN && attempt < 16))
                    {
                        continue;
                    }
                    throw new ErrnoException(errno, "openat2", path);
                }
            }
            finally
            {
                if (added)
                {
                    dir.DangerousRelease();
                }
            }
        }
    }
}
