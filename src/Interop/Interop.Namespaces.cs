using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    // unshare(2) and setns(2): used only on a dedicated thread that ends after its posix_spawn, or
    // in a single-purpose stage process (see Spawn/NamespaceSpawner.cs).
    internal static partial class Sys
    {
        internal const int CLONE_FS = 0x00000200;
        internal const int CLONE_NEWNS = 0x00020000;
        internal const int CLONE_NEWCGROUP = 0x02000000;
        internal const int CLONE_NEWUTS = 0x04000000;
        internal const int CLONE_NEWIPC = 0x08000000;
        internal const int CLONE_NEWUSER = 0x10000000;
        internal const int CLONE_NEWPID = 0x20000000;
        internal const int CLONE_NEWNET = 0x40000000;

        [LibraryImport(Libraries.Libc, EntryPoint = "unshare", SetLastError = true)]
        private static partial int unshare(int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "setns", SetLastError = true)]
        private static partial int setns(int fd, int nstype);

        internal static void Unshare(int flags)
        {
            if (unshare(flags) != 0)
            {
                throw Fail("unshare", $"0x{flags:x}");
            }
        }

        internal static void SetNs(int fd, int nstype, string what)
        {
            if (setns(fd, nstype) != 0)
            {
                throw Fail("setns", what);
            }
        }
    }
}
