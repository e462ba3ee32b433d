namespace Berth.Shim.Monitor;

/// <summary>
/// Keeps a long-lived shim small: after start-up and after each burst of requests, a compacting
/// collection returns the managed heap's free space and malloc_trim returns glibc's. A node runs
/// hundreds of shims, so their idle resident size is what counts.
/// </summary>
internal static class Footprint
{
    public static void Trim() => Interop.Sys.ReturnFreeMemory();
}
