using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int mknod(string path, uint mode, ulong device);

        [LibraryImport(Libraries.Libc, EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int chown(string path, uint uid, uint gid);

        /// <summary>mknod(2) of a FIFO or a character or block device; <paramref name="permissions"/> are masked by the umask.</summary>
        internal static void Mknod(string path, FileType type, uint permissions, uint major, uint minor)
        {
            if (mknod(path, (uint)type | (permissions & 0xfff), MakeDev(major, minor)) != 0)
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
    }
}
