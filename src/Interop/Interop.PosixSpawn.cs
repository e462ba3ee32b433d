using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    // posix_spawn(3) and its attribute and file-action objects. glibc's posix_spawnattr_t is
    // 336 bytes and posix_spawn_file_actions_t 80 on 64-bit; the shim gives each 1 KiB.
    internal static unsafe partial class Sys
    {
        internal const short POSIX_SPAWN_SETSIGDEF = 0x04;
        internal const short POSIX_SPAWN_SETSIGMASK = 0x08;

        [LibraryImport(Libraries.Libc, EntryPoint = "posix_spawn")]
        private static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

        [LibraryImport(Libraries.Libc, EntryPoint = "posix_spawnattr_init")]
        private static partial int posix_spawnattr_init(void* attributes);

        [LibraryImport(Libraries.Libc, EntryPoint = "posix_spawnattr_destroy")]
        private static partial int posix_spawnattr_destroy(void* attributes);

        [LibraryImport(Libraries.Libc, EntryPoint = "posix_spawnattr_setflags")]
        private static partial int posix_spawnattr_setflags(void* attributes, short flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "posix_spawnattr_setsigdefault")]
        private static partial int posix_spawnattr_setsigdefault(void* attributes, void* set);

        [LibraryImport(Libraries.Libc, EntryPoint = "posix_spawnattr_setsigmask")]
        private static partial int posix_spawnattr_setsigmask(void* attributes, void* set);

        [LibraryImport(Libraries.Libc, EntryPoint = "posix_spawn_file_actions_init")]
        private static partial int posix_spawn_file_actions_init(void* actions);

        [LibraryImport(Libraries.Libc, EntryPoint = "posix_spawn_file_actions_destroy")]
        private static partial int posix_spawn_file_actions_destroy(void* actions);

        [LibraryImport(Libraries.Libc, EntryPoint = "posix_spawn_file_actions_adddup2")]
        private static partial int posix_spawn_file_actions_adddup2(void* actions, int fd, int newfd);

        [LibraryImport(Libraries.Libc, EntryPoint = "posix_spawn_file_actions_addclosefrom_np")]
        private static partial int posix_spawn_file_actions_addclosefrom_np(void* actions, int from);

        /// <summary>
        /// Spawns <paramref name="path"/> with exactly the descriptors of <paramref name="fdMap"/> (child number ← parent number),
        /// every signal at its default disposition and the mask <paramref name="blockedSignals"/> (usually none).
        /// The parent's descriptors must not collide with the child numbers (the caller duplicates them high first).
        /// </summary>
        internal static int PosixSpawn(string path, string[] argv, string[] envp, ReadOnlySpan<(int Child, int Parent)> fdMap, ReadOnlySpan<int> blockedSignals)
        {
            void* attributes = NativeMemory.AllocZeroed(1024);
            void* actions = NativeMemory.AllocZeroed(1024);
            byte* sigdefault = stackalloc byte[128];
            byte* sigmask = stackalloc byte[128];
            var strings = new List<nint>();
            try
            {
                Check(posix_spawnattr_init(attributes), "posix_spawnattr_init");
                Check(posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
                SigFill(sigdefault);
                SigEmpty(sigmask);
                foreach (int signal in blockedSignals)
                {
                    SigAdd(sigmask, signal);
                }
                Check(posix_spawnattr_setsigdefault(attributes, sigdefault), "posix_spawnattr_setsigdefault");
                Check(posix_spawnattr_setsigmask(attributes, sigmask), "posix_spawnattr_setsigmask");
                Check(posix_spawnattr_setflags(attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK), "posix_spawnattr_setflags");
                int highest = 2;
                foreach (var (child, parent) in fdMap)
                {
                    Check(posix_spawn_file_actions_adddup2(actions, parent, child), "posix_spawn_file_actions_adddup2");
                    highest = Math.Max(highest, child);
                }
                Check(posix_spawn_file_actions_addclosefrom_np(actions, highest + 1), "posix_spawn_file_actions_addclosefrom_np");

                byte* nativePath = Utf8(path, strings);
                byte** nativeArgv = StringArray(argv, strings);
                byte** nativeEnvp = StringArray(envp, strings);
                int pid;
                int result = posix_spawn(&pid, nativePath, actions, attributes, nativeArgv, nativeEnvp);
                if (result != 0)
                {
                    throw new ErrnoException((Errno)result, "posix_spawn", path);
                }
                return pid;
            }
            finally
            {
                posix_spawn_file_actions_destroy(actions);
                posix_spawnattr_destroy(attributes);
                NativeMemory.Free(actions);
                NativeMemory.Free(attributes);
                foreach (nint p in strings)
                {
                    Marshal.FreeCoTaskMem(p);
                }
            }
        }

        private static void Check(int result, string function)
        {
            if (result != 0)
            {
                throw new ErrnoException((Errno)result, function, null);
            }
        }

        private static byte* Utf8(string s, List<nint> owned)
        {
            nint p = Marshal.StringToCoTaskMemUTF8(s);
            owned.Add(p);
            return (byte*)p;
        }

        private static byte** StringArray(string[] values, List<nint> owned)
        {
            nint block = Marshal.AllocCoTaskMem((values.Length + 1) * sizeof(nint));
            owned.Add(block);
            byte** array = (byte**)block;
            for (int i = 0; i < values.Length; i++)
            {
                array[i] = Utf8(values[i], owned);
            }
            array[values.Length] = null;
            return array;
        }
    }
}
