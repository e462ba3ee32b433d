namespace Berth;

internal static partial class Interop
{
    internal static partial class Libraries
    {
        /// <summary>glibc, bound by name so NativeAOT links it directly (DirectPInvoke).</summary>
        internal const string Libc = "libc";

        /// <summary>
        /// Debian's libseccomp2, by its soname (no -dev package needed). Not bound at link time: it is loaded
        /// at the first call, so only the stages that compile a filter map it, never the shim's monitor.
        /// </summary>
        internal const string Libseccomp = "libseccomp.so.2";
    }
}
