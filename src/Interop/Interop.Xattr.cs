using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "fsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int fsetxattr(SafeFileHandle fd, string name, byte* value, nuint size, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "lsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int lsetxattr(string path, string name, byte* value, nuint size, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial nint lgetxattr(string path, string name, byte* value, nuint size);

        /// <summary>fsetxattr(2) on an open (not O_PATH) file or directory.</summary>
        internal static unsafe void FSetXattr(SafeFileHandle fd, string name, ReadOnlySpan<byte> value, string displayPath)
        {
            fixed (byte* p = value)
            {
                if (fsetxattr(fd, name, p, (nuint)value.Length, 0) != 0)
                {
                    throw Fail("fsetxattr", $"{displayPath}: {name}");
                }
            }
        }

        /// <summary>
        /// lsetxattr(2) on <paramref name="path"/> inside <paramref name="dir"/>, the final component not followed.
        /// Linux has no *at form before setxattrat (6.13), and fsetxattr refuses O_PATH fds (which is all one can
        /// open a symlink, a device or a FIFO with safely), so the directory is named by its /proc/self/fd link,
        /// which the kernel resolves to the very directory the fd holds.
        /// </summary>
        internal static unsafe void LSetXattrAt(SafeFileHandle dir, string path, string name, ReadOnlySpan<byte> value)
        {
            bool added = false;
            try
            {
                dir.DangerousAddRef(ref added);
                string procPath = $"/proc/self/fd/{dir.DangerousGetHandle()}/{path}";
                fixed (byte* p = value)
                {
                    if (lsetxattr(procPath, name, p, (nuint)value.Length, 0) != 0)
                    {
                        throw Fail("lsetxattr", $"{path}: {name}");
                    }
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

        /// <summary>lgetxattr(2): the value, or null when the file has no such attribute (ENODATA).</summary>
        internal static unsafe byte[]? LGetXattr(string path, string name)
        {
            while (true)
            {
                nint size = lgetxattr(path, name, null, 0);
                if (size < 0)
                {
                    return LastErrno() == Errno.ENODATA ? null : throw Fail("lgetxattr", $"{path}: {name}");
                }
                byte[] value = new byte[size];
                fixed (byte* p = value)
                {
                    nint read = lgetxattr(path, name, p, (nuint)value.Length);
                    if (read >= 0)
                    {
                        return value.AsSpan(0, (int)read).ToArray();
                    }
                    if (LastErrno() != Errno.ERANGE) // grew in between: ask again
                    {
                        throw Fail("lgetxattr", $"{path}: {name}");
                    }
                }
            }
        }
    }
}
