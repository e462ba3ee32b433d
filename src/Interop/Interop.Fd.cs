using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    // The plain file-descriptor calls: close, read, write, pipe2, fcntl, dup3, close_range.
    // The shim's loop keeps raw descriptors (ints) in fixed arrays so it never allocates.
    internal static unsafe partial class Sys
    {
        internal const int O_CLOEXEC = 0x80000;
        internal const int O_NONBLOCK = 0x800;
        private const int F_GETFD = 1;
        private const int F_SETFD = 2;
        private const int F_GETFL = 3;
        private const int F_SETFL = 4;
        private const int F_DUPFD_CLOEXEC = 1030;
        private const int F_SETPIPE_SZ = 1031;
        private const int FD_CLOEXEC = 1;

        [LibraryImport(Libraries.Libc, EntryPoint = "close", SetLastError = true)]
        private static partial int close(int fd);

        [LibraryImport(Libraries.Libc, EntryPoint = "read", SetLastError = true)]
        private static partial nint read(int fd, byte* buffer, nuint count);

        [LibraryImport(Libraries.Libc, EntryPoint = "write", SetLastError = true)]
        private static partial nint write(int fd, byte* buffer, nuint count);

        [LibraryImport(Libraries.Libc, EntryPoint = "pipe2", SetLastError = true)]
        private static partial int pipe2(int* fds, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "fcntl", SetLastError = true)]
        private static partial int fcntl(int fd, int command, long argument);

        [LibraryImport(Libraries.Libc, EntryPoint = "dup3", SetLastError = true)]
        private static partial int dup3(int oldfd, int newfd, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "close_range", SetLastError = true)]
        private static partial int close_range(uint first, uint last, int flags);

        /// <summary>Closes a descriptor; -1 is ignored, and so is an error (the descriptor is gone either way).</summary>
        internal static void Close(int fd)
        {
            if (fd >= 0)
            {
                close(fd);
            }
        }

        /// <summary>read(2): the byte count, 0 at end of file, or -1 when a non-blocking descriptor has nothing (EAGAIN).</summary>
        internal static int Read(int fd, Span<byte> buffer)
        {
            fixed (byte* p = buffer)
            {
                int count;
                while (!Completed(read(fd, p, (nuint)buffer.Length), "read", out count))
                {
                }
                return count;
            }
        }

        /// <summary>write(2) once: the count written, or -1 when a non-blocking descriptor is full (EAGAIN).</summary>
        internal static int WriteSome(int fd, ReadOnlySpan<byte> buffer)
        {
            fixed (byte* p = buffer)
            {
                int count;
                while (!Completed(write(fd, p, (nuint)buffer.Length), "write", out count))
                {
                }
                return count;
            }
        }

        /// <summary>
        /// The outcome of one read(2) or write(2): false to call again after EINTR; else the count, or
        /// -1 when a non-blocking descriptor has nothing to give or no room (EAGAIN).
        /// </summary>
        private static bool Completed(nint result, string function, out int count)
        {
            count = (int)result;
            if (result >= 0)
            {
                return true;
            }
            Errno e = LastErrno();
            if (e == Errno.EINTR)
            {
                return false;
            }
            if (e == Errno.EAGAIN)
            {
                count = -1;
                return true;
            }
            throw new ErrnoException(e, function, null);
        }

        /// <summary>Writes all of <paramref name="buffer"/> to a blocking descriptor.</summary>
        internal static void WriteAll(int fd, ReadOnlySpan<byte> buffer)
        {
            while (!buffer.IsEmpty)
            {
                int n = WriteSome(fd, buffer);
                if (n < 0)
                {
                    throw new ErrnoException(Errno.EAGAIN, "write", null);
                }
                buffer = buffer[n..];
            }
        }

        /// <summary>A close-on-exec pipe: (read end, write end).</summary>
        internal static (int Read, int Write) Pipe(bool nonBlocking = false)
        {
            int* fds = stackalloc int[2];
            if (pipe2(fds, O_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0)) != 0)
            {
                throw Fail("pipe2");
            }
            return (fds[0], fds[1]);
        }

        internal static void SetNonBlocking(int fd, bool on)
        {
            int flags = fcntl(fd, F_GETFL, 0);
            if (flags < 0)
            {
                throw Fail("fcntl(F_GETFL)");
            }
            flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
            if (fcntl(fd, F_SETFL, flags) < 0)
            {
                throw Fail("fcntl(F_SETFL)");
            }
        }

        internal static void SetCloseOnExec(int fd, bool on)
        {
            int flags = fcntl(fd, F_GETFD, 0);
            if (flags < 0)
            {
                throw Fail("fcntl(F_GETFD)");
            }
            flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
            if (fcntl(fd, F_SETFD, flags) < 0)
            {
                throw Fail("fcntl(F_SETFD)");
            }
        }

        /// <summary>A close-on-exec duplicate numbered at least <paramref name="minimum"/>.</summary>
        internal static int DuplicateAbove(int fd, int minimum)
        {
            int copy = fcntl(fd, F_DUPFD_CLOEXEC, minimum);
            if (copy < 0)
            {
                throw Fail("fcntl(F_DUPFD_CLOEXEC)");
            }
            return copy;
        }

        /// <summary>Grows a pipe's buffer; best effort (the limit is /proc/sys/fs/pipe-max-size).</summary>
        internal static void TrySetPipeSize(int fd, int size) => fcntl(fd, F_SETPIPE_SZ, size);

        internal static void Dup2(int oldfd, int newfd)
        {
            if (oldfd == newfd)
            {
                SetCloseOnExec(newfd, false);
                return;
            }
            if (dup3(oldfd, newfd, 0) < 0)
            {
                throw Fail("dup3");
            }
        }

        /// <summary>Marks every descriptor from <paramref name="first"/> up close-on-exec.</summary>
        internal static void CloseOnExecFrom(int first)
        {
            const int CLOSE_RANGE_CLOEXEC = 4;
            if (close_range((uint)first, uint.MaxValue, CLOSE_RANGE_CLOEXEC) != 0)
            {
                throw Fail("close_range");
            }
        }
    }
}
