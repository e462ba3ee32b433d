namespace Berth.Api.Shim;

/// <summary>
/// The kernel file systems' mount points a container mount may not cover, shared by spec generation
/// (which refuses such a destination as written) and the shim (which refuses it again once the
/// image's links are resolved): inside /proc only the files lxcfs stands in for, as runc allows
/// (libcontainer/rootfs_linux.go checkProcMount), and inside /sys only lxcfs's CPU list.
/// </summary>
public static class KernelMountPoints
{
    /// <summary>The /proc files lxcfs emulates, which runc lets a mount cover.</summary>
    public static IReadOnlyList<string> LxcfsProcFiles { get; } =
    [
        "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps", "/proc/uptime", "/proc/loadavg",
        "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid", "/proc/sys/crypto/fips_enabled",
    ];

    /// <summary>The /sys file lxcfs emulates.</summary>
    public const string LxcfsSysFile = "/sys/devices/system/cpu/online";

    /// <summary>Whether a clean absolute path is strictly inside <paramref name="directory"/>.</summary>
    public static bool IsBelow(string path, string directory) => path.StartsWith(directory + "/", StringComparison.Ordinal);

    /// <summary>A destination inside /proc that is not one of <see cref="LxcfsProcFiles"/>.</summary>
    public static bool CoversProcFile(string path) => IsBelow(path, "/proc") && !LxcfsProcFiles.Contains(path);

    /// <summary>A destination inside /sys that is not <see cref="LxcfsSysFile"/>.</summary>
    public static bool CoversSysFile(string path) => IsBelow(path, "/sys") && path != LxcfsSysFile;
}
