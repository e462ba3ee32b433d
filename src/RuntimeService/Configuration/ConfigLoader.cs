using System.Net;
using System.Text.Json;

namespace Berth.RuntimeService.Configuration;

/// <summary>Reads the config file, applies command-line flags over it, and refuses anything invalid, naming the key.</summary>
public static class ConfigLoader
{
    public const string DefaultConfigPath = "/etc/berth/config.json";

    public static BerthConfig Load(string[] args)
    {
        var flags = ParseFlags(args);
        var explicitPath = flags.GetValueOrDefault("config");
        var path = explicitPath ?? DefaultConfigPath;
        var config = new BerthConfig();
        if (File.Exists(path))
        {
            config = Parse(File.ReadAllBytes(path), path);
        }
        else if (explicitPath is not null)
        {
            throw new ConfigException($"--config {path}: no such file");
        }
        config = config with
        {
            Listen = flags.GetValueOrDefault("listen") ?? config.Listen,
            Root = flags.GetValueOrDefault("root") ?? config.Root,
            State = flags.GetValueOrDefault("state") ?? config.State,
        };
        Validate(config);
        return config;
    }

    public static BerthConfig Parse(ReadOnlySpan<byte> json, string path)
    {
        try
        {
            return JsonSerializer.Deserialize(json, ConfigJsonContext.Default.BerthConfig)
                ?? throw new ConfigException($"{path}: the file must hold a JSON object");
        }
        catch (JsonException error)
        {
            throw new ConfigException($"{path}: {error.Message}");
        }
    }

    public static string Serialize(BerthConfig config) => JsonSerializer.Serialize(config, ConfigJsonContext.Default.BerthConfig);

    public static void Validate(BerthConfig config)
    {
        if (!config.Listen.StartsWith("unix:///", StringComparison.Ordinal))
        {
            throw new ConfigException($"listen: '{config.Listen}' must be unix:// followed by an absolute socket path");
        }
        RequireAbsolute("root", config.Root);
        RequireAbsolute("state", config.State);
        RequireAbsolute("seccompProfileRoot", config.SeccompProfileRoot);
        if (config.MetricsAddress is { } metrics &&
            (!IPEndPoint.TryParse(metrics, out var endPoint) || !IPAddress.IsLoopback(endPoint.Address) || endPoint.Port == 0))
        {
            throw new ConfigException($"metricsAddress: '{metrics}' must be a loopback HOST:PORT such as 127.0.0.1:9464");
        }
        if (config.MaxConcurrentDownloads is < 1 or > 64)
        {
            throw new ConfigException($"maxConcurrentDownloads: {config.MaxConcurrentDownloads} is outside 1..64");
        }
        if (config.PullProgressTimeoutSeconds is < 1 or > 3600)
        {
            throw new ConfigException($"pullProgressTimeoutSeconds: {config.PullProgressTimeoutSeconds} is outside 1..3600");
        }
        if (!Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(config.LogLevel, ignoreCase: true, out _))
        {
            throw new ConfigException($"logLevel: '{config.LogLevel}' is not one of Trace, Debug, Information, Warning, Error, Critical");
        }
        if (config.CgroupDriver is not ("cgroupfs" or "systemd"))
        {
            throw new ConfigException($"cgroupDriver: '{config.CgroupDriver}' is not cgroupfs or systemd");
        }
        if (!config.SystemdBusAddress.StartsWith("unix:", StringComparison.Ordinal))
        {
            throw new ConfigException($"systemdBusAddress: '{config.SystemdBusAddress}' must be a unix: D-Bus address such as unix:path=/run/systemd/private");
        }
        foreach (var (host, registry) in config.Registries)
        {
            if (string.IsNullOrWhiteSpace(host) || host.Contains('/'))
            {
                throw new ConfigException($"registries: '{host}' must be a registry host such as registry.k8s.io or myreg:5443");
            }
            foreach (var mirror in registry.Mirrors)
            {
                if (!Uri.TryCreate(mirror, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
                {
                    throw new ConfigException($"registries.{host}.mirrors: '{mirror}' must be an http:// or https:// URL");
                }
            }
            if (registry.Ca is { } ca && !File.Exists(ca))
            {
                throw new ConfigException($"registries.{host}.ca: no such file '{ca}'");
            }
        }
    }

    private static void RequireAbsolute(string key, string path)
    {
        if (!Path.IsPathFullyQualified(path))
        {
            throw new ConfigException($"{key}: '{path}' must be an absolute path");
        }
    }

    private static Dictionary<string, string> ParseFlags(string[] args)
    {
        string[] known = ["listen", "root", "state", "config"];
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new ConfigException($"unexpected argument '{arg}'; flags are --listen, --root, --state and --config");
            }
            var (name, value) = arg.IndexOf('=') is var equals and > 0
                ? (arg[2..equals], arg[(equals + 1)..])
                : (arg[2..], i + 1 < args.Length ? args[++i] : throw new ConfigException($"{arg} needs a value"));
            if (!known.Contains(name))
            {
                throw new ConfigException($"unknown flag --{name}; flags are --listen, --root, --state and --config");
            }
            flags[name] = value;
        }
        return flags;
    }
}

public sealed class ConfigException(string message) : Exception(message);
