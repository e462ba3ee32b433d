using System.Runtime.InteropServices;
using Berth.Core.Errors;
using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Node;

/// <summary>Reads the node's facts the planners take as input: what a sandbox copies, and what the kernel offers to confine containers.</summary>
public static class NodeFiles
{
    private const string AppArmorEnabledPath = "/sys/module/apparmor/parameters/enabled";
    private const string AppArmorProfilesPath = "/sys/kernel/security/apparmor/profiles";
    private const string SelinuxEnforcePath = "/sys/fs/selinux/enforce";

    /// <summary>The hostname, /etc/hosts and /etc/resolv.conf (empty when a file is missing).</summary>
    public static NodeFacts Read() =>
        new(Environment.MachineName, ReadOrEmpty("/etc/hosts"), ReadOrEmpty("/etc/resolv.conf"));

    /// <summary>
    /// The node's confinement facts: its architecture, whether AppArmor (the module's <c>enabled</c>
    /// parameter is Y, as libapparmor's aa_is_enabled reads it) and SELinux (selinuxfs mounted) are on,
    /// and Localhost seccomp profiles read from <paramref name="seccompProfileRoot"/> or an absolute path.
    /// </summary>
    public static NodeSecurity Security(string seccompProfileRoot) => new(
        RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
        seccompProfileRoot,
        ReadProfile,
        ReadOrEmpty(AppArmorEnabledPath).StartsWith('Y'),
        AppArmorProfileLoaded,
        SelinuxEnabled());

    /// <summary>The largest Localhost seccomp profile read (bytes); Docker's default profile is about 20 KiB.</summary>
    public const int MaxProfileBytes = 1 << 20;

    /// <summary>
    /// A Localhost seccomp profile's bytes; null when nothing is there; InvalidArgument naming the file when
    /// it cannot be read, is not a regular file (a FIFO would block the create, /dev/zero never end) or is
    /// larger than <see cref="MaxProfileBytes"/> (compiling one takes the shim past its create deadline).
    /// </summary>
    private static byte[]? ReadProfile(string path)
    {
        try
        {
            if (Interop.Sys.TryStat(path) is { } status && (status.Type != Interop.FileType.RegularFile || status.Size > MaxProfileBytes))
            {
                throw BerthException.InvalidArgument(status.Type != Interop.FileType.RegularFile
                    ? $"seccomp profile {path} is not a regular file"
                    : $"seccomp profile {path} is {status.Size} bytes, more than the {MaxProfileBytes} berth reads");
            }
            return File.ReadAllBytes(path);
        }
        catch (Exception error) when (error is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw BerthException.InvalidArgument($"seccomp profile {path} cannot be read: {error.Message}");
        }
    }

    /// <summary>Whether the kernel has an AppArmor profile of this name loaded: a line "NAME (mode)" of its profiles list.</summary>
    private static bool AppArmorProfileLoaded(string name) =>
        ReadOrEmpty(AppArmorProfilesPath).Split('\n').Any(line => line.StartsWith(name + " (", StringComparison.Ordinal));

    private static bool SelinuxEnabled() => File.Exists(SelinuxEnforcePath);

    private static string ReadOrEmpty(string path) => File.Exists(path) ? File.ReadAllText(path) : "";
}
