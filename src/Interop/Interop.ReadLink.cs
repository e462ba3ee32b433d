using System.Runtime.InteropServices;
using System.Text;

namespace Berth;

internal static partial class Interop
{
    internal static unsafe partial class Sys
    {
        /// <summary>PATH_MAX: a link's target is at most this long, its terminating NUL included.</summary>
        private const int PathMax = 4096;

        [LibraryImport(Libraries.Libc, EntryPoint = "readlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial nint readlink(string path, byte* buffer, nuint size);

        /// <summary>
        /// readlink(2): the target of the symbolic link <paramref name="path"/>, or null when
        /// <paramref name="path"/> is not a link (EINVAL) or not there (ENOENT, ENOTDIR).
        /// </summary>
        internal static string? TryReadLink(string path)
        {
            byte* buffer = stackalloc byte[PathMax];
            nint length = readlink(path, buffer, PathMax);
            if (length >= 0)
            {
                return Encoding.UTF8.GetString(buffer, (int)length);
            }
            return LastErrno() is Errno.EINVAL or Errno.ENOENT or Errno.ENOTDIR ? null : throw Fail("readlink", path);
        }
    }
}
