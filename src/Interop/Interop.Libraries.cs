namespace Berth;

internal static partial class Interop
{
    internal static partial class Libraries
    {
        /// <summary>glibc, bound by name so NativeAOT links it directly (DirectPInvoke).</summary>
        internal const string Libc = "libc";
    }
}
