using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    /// <summary>What statx(2) tells about a file, in managed types.</summary>
    internal readonly record struct FileStatus(
        uint Mode,
        uint Uid,
        uint Gid,
        ulong Inode,
        uint LinkCount,
        ulong Size,
        DateTimeOffset AccessTime,
        DateTimeOffset ModificationTime,
        uint DeviceMajor,
        uint DeviceMinor,
        uint RDeviceMajor,
        uint RDeviceMinor,
        ulong Blocks)
    {
        /// <summary>Bytes the file takes on disk (statx counts 512-byte blocks whatever the filesystem's block size).</summary>
        public long AllocatedBytes => (long)Blocks * 512;

        public ulong Device => ((ulong)DeviceMajor << 32) | DeviceMinor;

        public FileType Type => (FileType)(Mode & 0xF000);

        /// <summary>The 12 permission bits, setuid, setgid and sticky included.</summary>
        public UnixFileMode Permissions => (UnixFileMode)(Mode & 0xFFF);
    }

    internal static partial class Sys
    {
        [StructLayout(LayoutKind.Sequential)]
        private struct StatxTimestamp
        {
            public long Seconds;
            public uint Nanoseconds;
            private readonly int _reserved;

            public readonly DateTimeOffset ToDateTimeOffset() =>
                DateTimeOffset.UnixEpoch.AddTicks(Seconds * TimeSpan.TicksPerSecond + Nanoseconds / TimeSpan.NanosecondsPerTick);
        }

        // struct statx from linux/stat.h: the same layout on every architecture, 256 bytes.
        [StructLayout(LayoutKind.Sequential, Size = 256)]
        private struct Statx
        {
            public uint Mask;
            public uint BlockSize;
            public ulong Attributes;
            public uint LinkCount;
            public uint Uid;
            public uint Gid;
            public ushort Mode;
            private readonly ushort _spare0;
            public ulong Inode;
            public ulong Size;
            public ulong Blocks;
            public ulong AttributesMask;
            public StatxTimestamp AccessTime;
            public StatxTimestamp BirthTime;
            public StatxTimestamp ChangeTime;
            public StatxTimestamp ModificationTime;
            public uint RDevMajor;
            public uint RDevMinor;
            public uint DevMajor;
            public uint DevMinor;
            public ulong MountId;
        }

        private const uint STATX_BASIC_STATS = 0x7ff;
        private const uint STATX_MNT_ID = 0x1000;

        [LibraryImport(Libraries.Libc, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int statx(SafeFileHandle dirfd, string path, int flags, uint mask, out Statx buffer);

        /// <summary>statx(2) with AT_SYMLINK_NOFOLLOW: the status of <paramref name="path"/> itself, a symlink not followed.</summary>
        internal static FileStatus LStatAt(SafeFileHandle dir, string path) =>
            TryLStatAt(dir, path) ?? throw new ErrnoException(Errno.ENOENT, "statx", path);

        /// <summary>As <see cref="LStatAt"/>, but null when nothing is there (ENOENT).</summary>
        internal static FileStatus? TryLStatAt(SafeFileHandle dir, string path) => TryStatx(dir, path, AT_SYMLINK_NOFOLLOW);

        /// <summary>stat(2) by path: symbolic links followed; null when nothing is there (ENOENT, or a dangling link).</summary>
        internal static FileStatus? TryStat(string path) => TryStatx(AtFdCwd, path, 0);

        private static FileStatus? TryStatx(SafeFileHandle dir, string path, int flags)
        {
            if (statx(dir, path, flags, STATX_BASIC_STATS, out Statx st) != 0)
            {
                return LastErrno() == Errno.ENOENT ? null : throw Fail("statx", path);
            }
            return new FileStatus(
                st.Mode, st.Uid, st.Gid, st.Inode, st.LinkCount, st.Size,
                st.AccessTime.ToDateTimeOffset(), st.ModificationTime.ToDateTimeOffset(),
                st.DevMajor, st.DevMinor, st.RDevMajor, st.RDevMinor, st.Blocks);
        }

        /// <summary>The id of the mount an open file is on (statx STATX_MNT_ID: the first field of /proc/self/mountinfo).</summary>
        internal static ulong MountIdOf(SafeFileHandle file, string what)
        {
            if (statx(file, "", AT_EMPTY_PATH, STATX_MNT_ID, out Statx st) != 0)
            {
                throw Fail("statx", what);
            }
            return (st.Mask & STATX_MNT_ID) != 0 ? st.MountId : throw new ErrnoException(Errno.EOPNOTSUPP, "statx STATX_MNT_ID", what);
        }

        /// <summary>fstat(2) through statx AT_EMPTY_PATH: the status of what <paramref name="file"/> has open.</summary>
        internal static FileStatus FStat(SafeFileHandle file, string what) =>
            TryStatx(file, "", AT_EMPTY_PATH) ?? throw new ErrnoException(Errno.ENOENT, "statx", what);

        /// <summary>lstat by path, relative to the working directory.</summary>
        internal static FileStatus LStat(string path) => LStatAt(AtFdCwd, path);
    }
}
