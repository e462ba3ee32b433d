using System.Runtime.InteropServices;

namespace Berth.Shim;

internal static partial class Interop
{
    internal static partial class Sys
    {
        internal const uint S_IFCHR = 0x2000;
        internal const uint S_IFBLK = 0x6000;
        internal const uint S_IFIFO = 0x1000;

        [LibraryImport(Libraries.Libc, EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int mknod(string path, uint mode, ulong device);

        [LibraryImport(Libraries.Libc, EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int chown(string path, uint uid, uint gid);

        [LibraryImport(Libraries.Libc, EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int chmod(string path, uint mode);

        /// <summary>glibc's makedev: the 64-bit dev_t of a major and minor number.</summary>
        internal static ulong MakeDev(long major, long minor)
        {
            ulong ma = (ulong)major, mi = (ulong)minor;
            return ((ma & 0xfffff000UL) << 32) | ((ma & 0xfffUL) << 8) | ((mi & 0xffffff00UL) << 12) | (mi & 0xffUL);
        }

        internal static void Mknod(string path, uint mode, long major, long minor)
        {
            if (mknod(path, mode, MakeDev(major, minor)) != 0)
            {
                throw Fail("mknod", path);
            }
        }

        internal static void Chown(string path, uint uid, uint gid)
        {
            if (chown(path, uid, gid) != 0)
            {
                throw Fail("chown", path);
            }
        }

        internal static void Chmod(string path, uint mode)
        {
            if (chmod(path, mode) != 0)
            {
                throw Fail("chmod", path);
            }
        }
    }
}
