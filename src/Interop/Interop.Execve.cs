using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    internal static unsafe partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "execve", SetLastError = true)]
        private static partial int execve(byte* path, byte** argv, byte** envp);

        [LibraryImport(Libraries.Libc, EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int access(string path, int mode);

        /// <summary>Replaces the process image; returns only by throwing.</summary>
        internal static void Execve(string path, IReadOnlyList<string> argv, IReadOnlyList<string> envp)
        {
            var owned = new List<nint>();
            byte* nativePath = Utf8(path, owned);
            byte** nativeArgv = StringArray([.. argv], owned);
            byte** nativeEnvp = StringArray([.. envp], owned);
            execve(nativePath, nativeArgv, nativeEnvp);
            var error = Fail("execve", path);
            foreach (nint p in owned)
            {
                Marshal.FreeCoTaskMem(p);
            }
            throw error;
        }

        /// <summary>access(path, X_OK) for a regular file: whether exec could run it.</summary>
        internal static bool IsExecutable(string path) => access(path, 1) == 0 && !Directory.Exists(path);
    }
}
