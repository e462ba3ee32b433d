using Berth.Api.Shim;

namespace Berth.Shim.Init;

/// <summary>
/// Where a config.json mount may not go, by where it lands once the image's links are resolved:
/// inside /proc only on the files lxcfs stands in for (<see cref="KernelMountPoints"/>), on /proc
/// itself only a proc file system (or a bind of one), and nowhere inside /sys that an image's
/// symbolic link led it to. A mount there would cover a kernel file with one of the caller's choosing
/// (a writable /proc/sys/kernel/core_pattern runs a program on the host), or slip past the read-only
/// and masked paths. Spec generation refuses /sys destinations of unprivileged containers as they are
/// written; what reaches the shim there as written was allowed on purpose.
/// </summary>
internal static class ProcSysMounts
{
    /// <summary>
    /// Why the mount may not be made, or null. <paramref name="requested"/>: the destination as the spec
    /// writes it (cleaned); <paramref name="resolved"/>: where it lands in the container, links resolved;
    /// <paramref name="procfs"/>: the mount is a proc file system (type proc, or a bind of one).
    /// </summary>
    public static string? Refusal(string requested, string resolved, bool procfs)
    {
        string via = requested == resolved ? "" : $" (it resolves to {resolved} through a symbolic link in the image)";
        if (resolved == "/proc")
        {
            return procfs ? null : $"mount destination {requested} is /proc{via}, where only a proc file system may be mounted";
        }
        if (KernelMountPoints.CoversProcFile(resolved))
        {
            return $"mount destination {requested} is inside /proc{via}; only {string.Join(", ", KernelMountPoints.LxcfsProcFiles)} may be mounted over";
        }
        if (KernelMountPoints.IsBelow(resolved, "/sys") && requested != resolved)
        {
            return $"mount destination {requested} resolves into /sys through a symbolic link in the image ({resolved})";
        }
        return null;
    }
}
