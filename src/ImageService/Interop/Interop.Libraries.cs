namespace Berth.ImageService;

internal static partial class Interop
{
    internal static partial class Libraries
    {
        /// <summary>glibc: the only native library ImageService calls, bound by name so NativeAOT can DirectPInvoke it.</summary>
        internal const string Libc = "libc";
    }
}
