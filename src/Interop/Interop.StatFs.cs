using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    internal static unsafe partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int statfs(string path, byte* buffer);

        /// <summary>
        /// statfs(2)'s f_type (the file system's magic number). It is the first field of struct
        /// statfs, a 64-bit word on x86-64 and arm64 alike; the buffer is larger than the struct (120 bytes).
        /// </summary>
        internal static long StatFsType(string path)
        {
            byte* buffer = stackalloc byte[256];
            if (statfs(path, buffer) != 0)
            {
                throw Fail("statfs", path);
            }
            return *(long*)buffer;
        }
    }
}
