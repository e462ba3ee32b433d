namespace Berth.Api.Shim;

/// <summary>The files of a bundle directory, as berthd writes them and berth-shim uses them.</summary>
public static class BundleLayout
{
    /// <summary>The OCI runtime-spec configuration, written by berthd.</summary>
    public const string Config = "config.json";

    /// <summary><see cref="ShimOptions"/>, written by berthd.</summary>
    public const string Options = "shim.json";

    /// <summary>The control socket, created by the shim.</summary>
    public const string Socket = "shim.sock";

    /// <summary>The shim's pid (decimal, newline), written by the shim once it listens.</summary>
    public const string PidFile = "shim.pid";

    /// <summary>The default exit record (<see cref="ExitRecord"/>).</summary>
    public const string ExitFile = "exit.json";

    /// <summary>The shim's own diagnostics (stdout and stderr of the shim).</summary>
    public const string LogFile = "shim.log";

    public static string SocketPath(string bundle) => Path.Combine(bundle, Socket);

    public static string SocketPath(string bundle, ShimOptions options) =>
        string.IsNullOrEmpty(options.SocketPath) ? SocketPath(bundle) : options.SocketPath;
    public static string PidPath(string bundle) => Path.Combine(bundle, PidFile);
    public static string ConfigPath(string bundle) => Path.Combine(bundle, Config);
    public static string OptionsPath(string bundle) => Path.Combine(bundle, Options);
    public static string ShimLogPath(string bundle) => Path.Combine(bundle, LogFile);

    public static string ExitPath(string bundle, ShimOptions options) =>
        string.IsNullOrEmpty(options.ExitFile) ? Path.Combine(bundle, ExitFile) : options.ExitFile;
}
