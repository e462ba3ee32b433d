using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    internal static unsafe partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "posix_openpt", SetLastError = true)]
        private static partial int posix_openpt(int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "grantpt", SetLastError = true)]
        private static partial int grantpt(int fd);

        [LibraryImport(Libraries.Libc, EntryPoint = "unlockpt", SetLastError = true)]
        private static partial int unlockpt(int fd);

        [LibraryImport(Libraries.Libc, EntryPoint = "ptsname_r")]
        private static partial int ptsname_r(int fd, byte* buffer, nuint length);

        /// <summary>A new pseudo-terminal: its master (close-on-exec) and its slave, opened without becoming our controlling terminal.</summary>
        internal static (int Master, int Slave) OpenPty()
        {
            int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
            if (master < 0)
            {
                throw Fail("posix_openpt");
            }
            try
            {
                if (grantpt(master) != 0)
                {
                    throw Fail("grantpt");
                }
                if (unlockpt(master) != 0)
                {
                    throw Fail("unlockpt");
                }
                byte* name = stackalloc byte[128];
                int result = ptsname_r(master, name, 128);
                if (result != 0)
                {
                    throw new ErrnoException((Errno)result, "ptsname_r", null);
                }
                string path = Marshal.PtrToStringUTF8((nint)name)!;
                int slave = Open(path, O_RDWR | O_NOCTTY);
                return (master, slave);
            }
            catch
            {
                Close(master);
                throw;
            }
        }
    }
}
