using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    /// <summary>mount_setattr(2)'s MOUNT_ATTR_* bits (linux/mount.h).</summary>
    [Flags]
    internal enum MountAttributes : ulong
    {
        None = 0,
        ReadOnly = 0x1,
        NoSuid = 0x2,
        NoDev = 0x4,
        NoExec = 0x8,
        /// <summary>The access-time mode field (MOUNT_ATTR__ATIME): cleared when one of its modes is set.</summary>
        AtimeMask = 0x70,
        NoAtime = 0x10,
        StrictAtime = 0x20,
        NoDirAtime = 0x80,
        NoSymFollow = 0x200000,
    }

    // The file-descriptor mount API (Linux 5.2, mount_setattr 5.12; glibc 2.36 wraps all three): a mount
    // made or cloned detached, changed while nobody can see it, then attached on a directory held open,
    // so no path is walked again after it was checked.
    internal static partial class Sys
    {
        private const uint OPEN_TREE_CLONE = 1;
        private const uint OPEN_TREE_CLOEXEC = 0x80000;
        private const uint AT_RECURSIVE = 0x8000;
        private const uint MOVE_MOUNT_F_EMPTY_PATH = 0x4;
        private const uint MOVE_MOUNT_T_EMPTY_PATH = 0x40;

        [StructLayout(LayoutKind.Sequential)]
        private struct MountAttr
        {
            public ulong AttrSet;
            public ulong AttrClear;
            public ulong Propagation;
            public ulong UsernsFd;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "open_tree", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int open_tree(int dirfd, string path, uint flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "move_mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int move_mount(SafeFileHandle fromDirfd, string fromPath, SafeFileHandle toDirfd, string toPath, uint flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "mount_setattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int mount_setattr(SafeFileHandle dirfd, string path, uint flags, ref MountAttr attr, nuint size);

        /// <summary>
        /// open_tree(OPEN_TREE_CLONE): a detached copy of the mount at <paramref name="source"/> (and of
        /// the mounts below it when <paramref name="recursive"/>), as a bind mount would make, not attached anywhere yet.
        /// </summary>
        internal static SafeFileHandle CloneMount(string source, bool recursive)
        {
            int fd = open_tree(-100, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
            return fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw Fail("open_tree", source);
        }

        /// <summary>
        /// mount_setattr(2) on the mount <paramref name="mount"/> refers to (and every mount below it when
        /// <paramref name="recursive"/>): sets <paramref name="set"/>, clears <paramref name="clear"/>.
        /// </summary>
        internal static void SetMountAttributes(SafeFileHandle mount, MountAttributes set, MountAttributes clear, bool recursive, string what)
        {
            var attr = new MountAttr { AttrSet = (ulong)set, AttrClear = (ulong)clear };
            if (mount_setattr(mount, "", (uint)AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), ref attr, (nuint)Marshal.SizeOf<MountAttr>()) != 0)
            {
                throw Fail("mount_setattr", what);
            }
        }

        /// <summary>move_mount(2): attaches the detached mount <paramref name="mount"/> on the directory or file <paramref name="target"/> refers to.</summary>
        internal static void AttachMount(SafeFileHandle mount, SafeFileHandle target, string what)
        {
            if (move_mount(mount, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
            {
                throw Fail("move_mount", what);
            }
        }
    }
}
