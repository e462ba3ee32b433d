using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    internal static unsafe partial class Sys
    {
        internal const short POLLIN = 0x1;
        internal const short POLLOUT = 0x4;
        internal const short POLLERR = 0x8;
        internal const short POLLHUP = 0x10;
        internal const short POLLNVAL = 0x20;

        [LibraryImport(Libraries.Libc, EntryPoint = "poll", SetLastError = true)]
        private static partial int poll(PollFd* fds, nuint count, int timeout);

        /// <summary>poll(2): the number of ready entries, 0 on timeout or interruption.</summary>
        internal static int Poll(PollFd* fds, int count, int timeoutMs)
        {
            int n = poll(fds, (nuint)count, timeoutMs);
            if (n >= 0)
            {
                return n;
            }
            if (LastErrno() == Errno.EINTR)
            {
                return 0;
            }
            throw Fail("poll");
        }
    }
}
