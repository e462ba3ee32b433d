using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    // glibc applies these to every thread of the process (its setxid broadcast).
    internal static unsafe partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "setresuid", SetLastError = true)]
        private static partial int setresuid(uint ruid, uint euid, uint suid);

        [LibraryImport(Libraries.Libc, EntryPoint = "setresgid", SetLastError = true)]
        private static partial int setresgid(uint rgid, uint egid, uint sgid);

        [LibraryImport(Libraries.Libc, EntryPoint = "setgroups", SetLastError = true)]
        private static partial int setgroups(nuint size, uint* list);

        [LibraryImport(Libraries.Libc, EntryPoint = "setsid", SetLastError = true)]
        private static partial int setsid();

        [LibraryImport(Libraries.Libc, EntryPoint = "umask")]
        private static partial uint umask(uint mask);

        [LibraryImport(Libraries.Libc, EntryPoint = "chdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int chdir(string path);


        [LibraryImport(Libraries.Libc, EntryPoint = "fchdir", SetLastError = true)]
        private static partial int fchdir(int fd);

        [LibraryImport(Libraries.Libc, EntryPoint = "sethostname", SetLastError = true)]
        private static partial int sethostname(byte* name, nuint length);

        [LibraryImport(Libraries.Libc, EntryPoint = "setdomainname", SetLastError = true)]
        private static partial int setdomainname(byte* name, nuint length);

        internal static void SetResUid(uint uid)
        {
            if (setresuid(uid, uid, uid) != 0)
            {
                throw Fail("setresuid", uid.ToString());
            }
        }

        internal static void SetResGid(uint gid)
        {
            if (setresgid(gid, gid, gid) != 0)
            {
                throw Fail("setresgid", gid.ToString());
            }
        }

        internal static void SetGroups(ReadOnlySpan<uint> groups)
        {
            fixed (uint* p = groups)
            {
                if (setgroups((nuint)groups.Length, p) != 0)
                {
                    throw Fail("setgroups");
                }
            }
        }

        /// <summary>setsid(2); false when the caller already leads a process group.</summary>
        internal static bool SetSid() => setsid() >= 0;

        internal static uint Umask(uint mask) => umask(mask);

        internal static void Chdir(string path)
        {
            if (chdir(path) != 0)
            {
                throw Fail("chdir", path);
            }
        }

        internal static void Fchdir(int fd)
        {
            if (fchdir(fd) != 0)
            {
                throw Fail("fchdir");
            }
        }

        internal static void SetHostname(string name)
        {
            byte[] bytes = System.Text.Encoding.UTF8.GetBytes(name);
            fixed (byte* p = bytes)
            {
                if (sethostname(p, (nuint)bytes.Length) != 0)
                {
                    throw Fail("sethostname", name);
                }
            }
        }

        internal static void SetDomainname(string name)
        {
            byte[] bytes = System.Text.Encoding.UTF8.GetBytes(name);
            fixed (byte* p = bytes)
            {
                if (setdomainname(p, (nuint)bytes.Length) != 0)
                {
                    throw Fail("setdomainname", name);
                }
            }
        }
    }
}
