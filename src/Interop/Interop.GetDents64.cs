using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "getdents64", SetLastError = true)]
        private static unsafe partial nint getdents64(SafeFileHandle fd, byte* buffer, nuint count);

        /// <summary>
        /// The names in the directory open (O_RDONLY|O_DIRECTORY) at <paramref name="dir"/>, "." and ".." left out,
        /// read with getdents64(2) so the directory is walked by fd and never by path.
        /// </summary>
        internal static unsafe List<string> ReadDirectoryNames(SafeFileHandle dir, string displayPath)
        {
            var names = new List<string>();
            byte[] buffer = ArrayPool<byte>.Shared.Rent(32 * 1024);
            try
            {
                while (true)
                {
                    nint read;
                    fixed (byte* p = buffer)
                    {
                        read = getdents64(dir, p, (nuint)buffer.Length);
                    }
                    if (read < 0)
                    {
                        throw Fail("getdents64", displayPath);
                    }
                    if (read == 0)
                    {
                        return names;
                    }
                    // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
                    for (int offset = 0; offset < read;)
                    {
                        int recordLength = MemoryMarshal.Read<ushort>(buffer.AsSpan(offset + 16));
                        ReadOnlySpan<byte> name = buffer.AsSpan(offset + 19, recordLength - 19);
                        name = name[..name.IndexOf((byte)0)];
                        if (!(name.SequenceEqual("."u8) || name.SequenceEqual(".."u8)))
                        {
                            names.Add(Encoding.UTF8.GetString(name));
                        }
                        offset += recordLength;
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
