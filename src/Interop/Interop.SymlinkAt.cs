using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int symlinkat(string target, SafeFileHandle newdirfd, string linkpath);

        /// <summary>symlinkat(2): creates <paramref name="path"/> in <paramref name="dir"/> holding <paramref name="target"/>, which is never resolved here.</summary>
        internal static void SymlinkAt(string target, SafeFileHandle dir, string path)
        {
            if (symlinkat(target, dir, path) != 0)
            {
                throw Fail("symlinkat", path);
            }
        }
    }
}
