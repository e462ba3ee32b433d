using System.Diagnostics;
using Berth.Api.Shim;

namespace Berth.RuntimeService.Shims;

/// <summary>Starts berth-shim monitors and finds them again after a daemon restart.</summary>
public sealed class ShimLauncher(string shimPath)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan ReconnectTimeout = TimeSpan.FromSeconds(2);

    public string ShimPath => shimPath;

    /// <summary>
    /// Starts `berth-shim serve BUNDLE`. The shim makes itself a session leader and moves its stdio to
    /// the bundle's shim.log, so it outlives this daemon; until then the daemon reaps it when it exits.
    /// </summary>
    public async Task<ShimClient> StartAsync(string bundle, string socketPath, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(socketPath)!);
        var start = new ProcessStartInfo(shimPath) { UseShellExecute = false };
        start.ArgumentList.Add("serve");
        start.ArgumentList.Add(bundle);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {shimPath}");
        _ = process.WaitForExitAsync(CancellationToken.None).ContinueWith(_ => process.Dispose(), TaskScheduler.Default);
        try
        {
            return await ShimClient.ConnectAsync(socketPath, StartTimeout, ct);
        }
        catch (ShimUnavailableException error)
        {
            var log = File.Exists(BundleLayout.ShimLogPath(bundle)) ? File.ReadAllText(BundleLayout.ShimLogPath(bundle)).Trim() : "";
            throw new ShimUnavailableException($"the shim for {bundle} did not answer: {error.Message} {log}", error);
        }
    }

    /// <summary>Connects to a running shim, or null when none answers (it exited, or the node rebooted).</summary>
    public static async Task<ShimClient?> TryConnectAsync(string socket, CancellationToken ct)
    {
        if (!File.Exists(socket))
        {
            return null;
        }
        try
        {
            return await ShimClient.ConnectAsync(socket, ReconnectTimeout, ct);
        }
        catch (ShimUnavailableException)
        {
            return null;
        }
    }
}
