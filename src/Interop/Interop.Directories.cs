using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    // mkdir(2) and rmdir(2) with the errno kept: cgroup directories answer EBUSY while tasks
    // drain and ENOTEMPTY for a child cgroup, which the BCL folds into one IOException.
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int mkdir(string path, uint mode);

        [LibraryImport(Libraries.Libc, EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int rmdir(string path);

        /// <summary>mkdir(2): true when it made the directory, false when it already existed.</summary>
        internal static bool MkDir(string path, uint mode = 0x1ED /* 0755 */)
        {
            if (mkdir(path, mode) == 0)
            {
                return true;
            }
            if (LastErrno() == Errno.EEXIST)
            {
                return false;
            }
            throw Fail("mkdir", path);
        }

        /// <summary>rmdir(2): 0 when removed, else the errno (ENOENT when it was already gone).</summary>
        internal static Errno TryRmDir(string path) => rmdir(path) == 0 ? 0 : LastErrno();
    }
}
