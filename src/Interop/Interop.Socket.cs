using System.Runtime.InteropServices;
using System.Text;

namespace Berth;

internal static partial class Interop
{
    // Sockets: the shim's control socket (a unix stream socket it listens on with its own poll loop),
    // socket pairs, and the TCP sockets port forwarding opens inside a pod's network namespace.
    internal static unsafe partial class Sys
    {
        private const int AF_UNIX = 1;
        private const int AF_INET = 2;
        private const int SOCK_STREAM = 1;
        private const int SOCK_DGRAM = 2;
        private const int SOCK_NONBLOCK = 0x800;
        private const int SOCK_CLOEXEC = 0x80000;

        [LibraryImport(Libraries.Libc, EntryPoint = "socket", SetLastError = true)]
        private static partial int socket(int domain, int type, int protocol);

        [LibraryImport(Libraries.Libc, EntryPoint = "bind", SetLastError = true)]
        private static partial int bind(int fd, byte* address, uint length);

        [LibraryImport(Libraries.Libc, EntryPoint = "listen", SetLastError = true)]
        private static partial int listen(int fd, int backlog);

        [LibraryImport(Libraries.Libc, EntryPoint = "accept4", SetLastError = true)]
        private static partial int accept4(int fd, void* address, void* length, int flags);

        /// <summary>A non-blocking listening unix socket bound at <paramref name="path"/> (which must not exist).</summary>
        internal static int ListenUnix(string path, int backlog)
        {
            byte[] name = Encoding.UTF8.GetBytes(path);
            if (name.Length >= 108)
            {
                throw new ErrnoException(Errno.EINVAL, "bind", path + " (longer than 107 bytes)");
            }
            int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0)
            {
                throw Fail("socket");
            }
            byte* address = stackalloc byte[110];
            new Span<byte>(address, 110).Clear();
            *(ushort*)address = AF_UNIX;
            name.CopyTo(new Span<byte>(address + 2, 108));
            if (bind(fd, address, (uint)(2 + name.Length + 1)) != 0)
            {
                var error = Fail("bind", path);
                Close(fd);
                throw error;
            }
            if (listen(fd, backlog) != 0)
            {
                var error = Fail("listen", path);
                Close(fd);
                throw error;
            }
            return fd;
        }

        /// <summary>Accepts a connection as a non-blocking descriptor, or -1 when none is pending.</summary>
        internal static int Accept(int listenFd)
        {
            while (true)
            {
                int fd = accept4(listenFd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd >= 0)
                {
                    return fd;
                }
                Errno e = LastErrno();
                if (e == Errno.EINTR)
                {
                    continue;
                }
                // EAGAIN, or a connection that went away before it was accepted.
                return -1;
            }
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "socketpair", SetLastError = true)]
        private static partial int socketpair(int domain, int type, int protocol, int* fds);

        /// <summary>A connected pair of close-on-exec unix stream sockets (an exec's or attacher's stdio end and the end berthd gets).</summary>
        internal static (int First, int Second) SocketPair()
        {
            int* fds = stackalloc int[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
            {
                throw Fail("socketpair");
            }
            return (fds[0], fds[1]);
        }

        private const int AF_INET6 = 10;

        /// <summary>
        /// A close-on-exec TCP socket of the calling thread's network namespace (port forwarding creates it on
        /// a thread that entered a pod's, and the socket keeps that namespace from any thread).
        /// </summary>
        internal static int TcpSocket(bool ipv6)
        {
            int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0)
            {
                throw Fail(ipv6 ? "socket(AF_INET6)" : "socket(AF_INET)");
            }
            return fd;
        }

        /// <summary>An AF_INET datagram socket: the handle for interface ioctls in the current network namespace.</summary>
        internal static int InetDatagramSocket()
        {
            int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (fd < 0)
            {
                throw Fail("socket(AF_INET)");
            }
            return fd;
        }
    }
}
