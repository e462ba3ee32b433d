using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    // ioctl(2) for terminals and network interfaces.
    internal static unsafe partial class Sys
    {
        private const ulong TIOCSCTTY = 0x540E;
        private const ulong TIOCSWINSZ = 0x5414;
        private const ulong SIOCGIFFLAGS = 0x8913;
        private const ulong SIOCSIFFLAGS = 0x8914;
        private const short IFF_UP = 0x1;

        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        private static partial int ioctl(int fd, ulong request, void* argument);

        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        private static partial int ioctl_int(int fd, ulong request, nint argument);

        /// <summary>Makes the terminal on <paramref name="fd"/> the session's controlling terminal.</summary>
        internal static void SetControllingTerminal(int fd)
        {
            if (ioctl_int(fd, TIOCSCTTY, 0) != 0)
            {
                throw Fail("ioctl(TIOCSCTTY)");
            }
        }

        internal static void SetWindowSize(int fd, ushort rows, ushort columns)
        {
            ushort* size = stackalloc ushort[4];
            size[0] = rows;
            size[1] = columns;
            size[2] = 0;
            size[3] = 0;
            if (ioctl(fd, TIOCSWINSZ, size) != 0)
            {
                throw Fail("ioctl(TIOCSWINSZ)");
            }
        }

        /// <summary>Sets IFF_UP on a network interface of the current network namespace.</summary>
        internal static void InterfaceUp(string name)
        {
            int fd = InetDatagramSocket();
            try
            {
                // struct ifreq: char ifr_name[16], then a union whose ifr_flags is a short; 40 bytes.
                byte* request = stackalloc byte[40];
                new Span<byte>(request, 40).Clear();
                System.Text.Encoding.ASCII.GetBytes(name, new Span<byte>(request, 15));
                if (ioctl(fd, SIOCGIFFLAGS, request) != 0)
                {
                    throw Fail("ioctl(SIOCGIFFLAGS)", name);
                }
                *(short*)(request + 16) |= IFF_UP;
                if (ioctl(fd, SIOCSIFFLAGS, request) != 0)
                {
                    throw Fail("ioctl(SIOCSIFFLAGS)", name);
                }
            }
            finally
            {
                Close(fd);
            }
        }
    }
}
