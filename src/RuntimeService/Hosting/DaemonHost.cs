namespace Berth.RuntimeService.Hosting;

/// <summary>
/// What berthd's web hosts (the CRI sockets and the streaming server) are built with. ASP.NET Core's
/// default configuration reads appsettings.json from the content root (the working directory) and
/// watches it for changes with a FileSystemWatcher over the whole directory tree (one inotify watch per
/// directory): under kubelet's unit that is /, in a test or bench a tree where pods write their logs,
/// and every write there woke the daemon (a sixth of its CPU at rest, measured with 30 pods). berthd
/// takes its configuration from --config alone, so nothing is watched.
/// </summary>
public static class DaemonHost
{
    /// <summary>The builder options: the host's configuration reload switched off (hostBuilder:reloadConfigOnChange, read before appsettings.json is added).</summary>
    public static WebApplicationOptions Options => new() { Args = ["--hostBuilder:reloadConfigOnChange=false"] };
}
