using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    // capset(2) with the version 3 header: 64-bit sets split in two 32-bit words.
    internal static unsafe partial class Sys
    {
        private const uint LINUX_CAPABILITY_VERSION_3 = 0x20080522;

        [LibraryImport(Libraries.Libc, EntryPoint = "capset", SetLastError = true)]
        private static partial int capset(uint* header, uint* data);

        /// <summary>Sets the calling thread's effective, permitted and inheritable capability sets.</summary>
        internal static void CapSet(ulong effective, ulong permitted, ulong inheritable)
        {
            uint* header = stackalloc uint[2];
            header[0] = LINUX_CAPABILITY_VERSION_3;
            header[1] = 0;
            // struct __user_cap_data_struct { effective, permitted, inheritable } x 2
            uint* data = stackalloc uint[6];
            data[0] = (uint)effective;
            data[1] = (uint)permitted;
            data[2] = (uint)inheritable;
            data[3] = (uint)(effective >> 32);
            data[4] = (uint)(permitted >> 32);
            data[5] = (uint)(inheritable >> 32);
            if (capset(header, data) != 0)
            {
                throw Fail("capset");
            }
        }
    }
}
