using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        internal const ulong MS_RDONLY = 1;
        internal const ulong MS_NOSUID = 2;
        internal const ulong MS_NODEV = 4;
        internal const ulong MS_NOEXEC = 8;
        internal const ulong MS_SYNCHRONOUS = 16;
        internal const ulong MS_REMOUNT = 32;
        internal const ulong MS_MANDLOCK = 64;
        internal const ulong MS_DIRSYNC = 128;
        internal const ulong MS_NOSYMFOLLOW = 256;
        internal const ulong MS_NOATIME = 1024;
        internal const ulong MS_NODIRATIME = 2048;
        internal const ulong MS_BIND = 4096;
        internal const ulong MS_MOVE = 8192;
        internal const ulong MS_REC = 16384;
        internal const ulong MS_SILENT = 32768;
        internal const ulong MS_UNBINDABLE = 1 << 17;
        internal const ulong MS_PRIVATE = 1 << 18;
        internal const ulong MS_SLAVE = 1 << 19;
        internal const ulong MS_SHARED = 1 << 20;
        internal const ulong MS_RELATIME = 1 << 21;
        internal const ulong MS_STRICTATIME = 1 << 24;
        internal const ulong MS_LAZYTIME = 1 << 25;

        internal const int MNT_DETACH = 2;

        [LibraryImport(Libraries.Libc, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int mount(string? source, string target, string? fstype, ulong flags, string? data);

        [LibraryImport(Libraries.Libc, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int umount2(string target, int flags);

        internal static void Mount(string? source, string target, string? fstype, ulong flags, string? data)
        {
            if (mount(source, target, fstype, flags, string.IsNullOrEmpty(data) ? null : data) != 0)
            {
                throw Fail("mount", $"{source ?? "none"} on {target} type {fstype ?? "none"} flags 0x{flags:x}{(string.IsNullOrEmpty(data) ? "" : " data " + data)}");
            }
        }

        /// <summary>umount2(2); false when nothing was mounted there (EINVAL) or the path is gone (ENOENT).</summary>
        internal static bool Unmount(string target, int flags)
        {
            if (umount2(target, flags) == 0)
            {
                return true;
            }
            Errno e = LastErrno();
            if (e is Errno.EINVAL or Errno.ENOENT)
            {
                return false;
            }
            throw new ErrnoException(e, "umount2", target);
        }
    }
}
