using System.Security.Cryptography;

namespace Berth.RuntimeService.Pods;

public static class Identifiers
{
    /// <summary>64 hex digits, as containerd and CRI-O make sandbox and container IDs.</summary>
    public static string New() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public static long NowNanoseconds() => (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
}
