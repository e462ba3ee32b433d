using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    // Passing descriptors over a unix socket (SCM_RIGHTS, unix(7)): the shim hands berthd the far
    // ends of an exec's or attacher's stdio, so their bytes never pass through the shim. Layouts are
    // those of x86-64 and arm64 (LP64): msghdr 56 bytes, iovec 16, cmsghdr 16 before its data.
    internal static unsafe partial class Sys
    {
        private const int SOL_SOCKET = 1;
        private const int SCM_RIGHTS = 1;
        private const int MSG_CTRUNC = 0x8;
        private const int MSG_DONTWAIT = 0x40;
        private const int MSG_NOSIGNAL = 0x4000;
        private const int MSG_CMSG_CLOEXEC = 0x40000000;

        /// <summary>The most descriptors one message carries (an exec's three stdio ends, with room).</summary>
        internal const int MaxRights = 8;

        [StructLayout(LayoutKind.Sequential)]
        private struct IoVec
        {
            public byte* Base;
            public nuint Length;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct MsgHdr
        {
            public void* Name;
            public uint NameLength;
            public IoVec* Iov;
            public nuint IovLength;
            public void* Control;
            public nuint ControlLength;
            public int Flags;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct CmsgHdr
        {
            public nuint Length;
            public int Level;
            public int Type;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "sendmsg", SetLastError = true)]
        private static partial nint sendmsg(int fd, MsgHdr* message, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "recvmsg", SetLastError = true)]
        private static partial nint recvmsg(int fd, MsgHdr* message, int flags);

        /// <summary>CMSG_SPACE for <paramref name="count"/> descriptors: the header, then the ints rounded up to 8 bytes.</summary>
        private static int ControlSpace(int count) => sizeof(CmsgHdr) + ((count * sizeof(int) + 7) & ~7);

        /// <summary>
        /// sendmsg(2) of <paramref name="data"/> with <paramref name="descriptors"/> attached (SCM_RIGHTS; the
        /// kernel gives the receiver duplicates): the byte count sent, or -1 when a non-blocking socket is
        /// full. The descriptors travel with the first byte, so a caller sends the rest with plain writes.
        /// </summary>
        internal static int SendWithRights(int fd, ReadOnlySpan<byte> data, ReadOnlySpan<int> descriptors)
        {
            if (data.IsEmpty || descriptors.Length > MaxRights)
            {
                throw new ErrnoException(Errno.EINVAL, "sendmsg", null);
            }
            int space = ControlSpace(descriptors.Length);
            byte* control = stackalloc byte[ControlSpace(MaxRights)];
            new Span<byte>(control, space).Clear();
            var header = (CmsgHdr*)control;
            header->Length = (nuint)(sizeof(CmsgHdr) + descriptors.Length * sizeof(int));
            header->Level = SOL_SOCKET;
            header->Type = SCM_RIGHTS;
            descriptors.CopyTo(new Span<int>(control + sizeof(CmsgHdr), descriptors.Length));
            fixed (byte* bytes = data)
            {
                IoVec iov = new() { Base = bytes, Length = (nuint)data.Length };
                MsgHdr message = new() { Iov = &iov, IovLength = 1, Control = descriptors.IsEmpty ? null : control, ControlLength = descriptors.IsEmpty ? 0 : (nuint)space };
                while (true)
                {
                    nint sent = sendmsg(fd, &message, MSG_NOSIGNAL);
                    if (sent >= 0)
                    {
                        return (int)sent;
                    }
                    Errno e = LastErrno();
                    if (e == Errno.EINTR)
                    {
                        continue;
                    }
                    if (e == Errno.EAGAIN)
                    {
                        return -1;
                    }
                    throw new ErrnoException(e, "sendmsg", null);
                }
            }
        }

        /// <summary>
        /// recvmsg(2) without blocking: bytes into <paramref name="data"/> and the descriptors that came with
        /// them into <paramref name="descriptors"/> (close-on-exec, MSG_CMSG_CLOEXEC, so no program berthd
        /// starts inherits them). Returns the byte count, 0 at end of stream, -1 when nothing is there now.
        /// </summary>
        /// <exception cref="ErrnoException">EMSGSIZE-like truncation of the descriptors (MSG_CTRUNC: they are closed), or a socket error.</exception>
        internal static int ReceiveWithRights(int fd, Span<byte> data, Span<int> descriptors, out int descriptorCount)
        {
            descriptorCount = 0;
            int space = ControlSpace(MaxRights);
            byte* control = stackalloc byte[space];
            new Span<byte>(control, space).Clear();
            fixed (byte* bytes = data)
            {
                IoVec iov = new() { Base = bytes, Length = (nuint)data.Length };
                MsgHdr message = new() { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)space };
                nint received;
                while (true)
                {
                    received = recvmsg(fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                    if (received >= 0)
                    {
                        break;
                    }
                    Errno e = LastErrno();
                    if (e == Errno.EINTR)
                    {
                        continue;
                    }
                    if (e == Errno.EAGAIN)
                    {
                        return -1;
                    }
                    throw new ErrnoException(e, "recvmsg", null);
                }
                if (message.ControlLength >= (nuint)sizeof(CmsgHdr))
                {
                    var header = (CmsgHdr*)control;
                    if (header->Level == SOL_SOCKET && header->Type == SCM_RIGHTS)
                    {
                        int count = ((int)header->Length - sizeof(CmsgHdr)) / sizeof(int);
                        var received_ = new ReadOnlySpan<int>(control + sizeof(CmsgHdr), count);
                        int kept = Math.Min(count, descriptors.Length);
                        received_[..kept].CopyTo(descriptors);
                        foreach (int extra in received_[kept..])
                        {
                            Close(extra);
                        }
                        descriptorCount = kept;
                    }
                }
                if ((message.Flags & MSG_CTRUNC) != 0)
                {
                    for (int i = 0; i < descriptorCount; i++)
                    {
                        Close(descriptors[i]);
                    }
                    descriptorCount = 0;
                    throw new ErrnoException(Errno.EINVAL, "recvmsg", "descriptors truncated (MSG_CTRUNC)");
                }
                return (int)received;
            }
        }
    }
}
