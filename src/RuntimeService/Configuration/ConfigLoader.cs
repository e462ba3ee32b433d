using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Api.Shim;
using Berth.ImageService.Registry;
using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Configuration;

/// <summary>Reads the config file, applies command-line flags over it, and refuses anything invalid, naming the key.</summary>
public static class ConfigLoader
{
    public const string DefaultConfigPath = "/etc/berth/config.json";

    /// <summary>The drop-in directory beside a config file: /etc/berth/config.d for /etc/berth/config.json.</summary>
    public static string DropInDirectory(string configPath) => Path.Combine(Path.GetDirectoryName(configPath) ?? "/", "config.d");

    /// <summary>
    /// The configuration berthd runs with: the file (<c>--config</c>, else /etc/berth/config.json when it
    /// exists), the drop-ins of config.d beside it merged over it in lexical order, then the flags. Throws
    /// <see cref="ConfigException"/> naming the file and key of anything invalid.
    /// </summary>
    public static BerthConfig Load(string[] args)
    {
        var flags = ParseFlags(args);
        var explicitPath = flags.GetValueOrDefault("config");
        var path = explicitPath ?? DefaultConfigPath;
        if (explicitPath is not null && !File.Exists(path))
        {
            throw new ConfigException($"--config {path}: no such file");
        }
        var files = Files(path);
        var config = Merge(files);
        config = config with
        {
            Listen = flags.GetValueOrDefault("listen") ?? config.Listen,
            Root = flags.GetValueOrDefault("root") ?? config.Root,
            State = flags.GetValueOrDefault("state") ?? config.State,
        };
        try
        {
            Validate(config);
        }
        catch (ConfigException error) when (error.Key is { } key)
        {
            // With drop-ins, the operator must know which file to fix.
            string source = flags.ContainsKey(key) ? $"--{key}" : Origin(Origins(files), key) ?? "the built-in default";
            throw new ConfigException($"{source}: {error.Message}") { Key = key };
        }
        return config;
    }

    /// <summary>
    /// For each key the files set (dotted paths of JSON names, objects and values alike), the last file that set
    /// it: the file a merged value came from.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Origins(IReadOnlyList<(string Path, byte[] Bytes)> files)
    {
        var origins = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (path, bytes) in files)
        {
            if (JsonNode.Parse(bytes, documentOptions: DocumentOptions) is JsonObject root)
            {
                Record(root, "");
            }

            void Record(JsonObject node, string prefix)
            {
                foreach (var (key, value) in node)
                {
                    string name = prefix + key;
                    origins[name] = path;
                    if (value is JsonObject child)
                    {
                        Record(child, name + ".");
                    }
                }
            }
        }
        return origins;
    }

    /// <summary>The file <paramref name="key"/>'s value came from: its own entry, else its nearest enclosing key's; null for a default.</summary>
    public static string? Origin(IReadOnlyDictionary<string, string> origins, string key)
    {
        for (string? name = key; name is not null; name = name.LastIndexOf('.') is var dot and > 0 ? name[..dot] : null)
        {
            if (origins.TryGetValue(name, out var file))
            {
                return file;
            }
        }
        return null;
    }

    /// <summary>The config file (when it exists) and its drop-ins (*.json, ordinal order of names), with their bytes.</summary>
    public static IReadOnlyList<(string Path, byte[] Bytes)> Files(string configPath)
    {
        var files = new List<(string, byte[])>();
        if (File.Exists(configPath))
        {
            files.Add((configPath, File.ReadAllBytes(configPath)));
        }
        string dropIns = DropInDirectory(configPath);
        if (Directory.Exists(dropIns))
        {
            foreach (string file in Directory.EnumerateFiles(dropIns, "*.json").Order(StringComparer.Ordinal))
            {
                files.Add((file, File.ReadAllBytes(file)));
            }
        }
        return files;
    }

    /// <summary>
    /// Each file checked on its own (so an error names its file and key), then all merged in order: objects key
    /// by key, at any depth; anything else (numbers, strings, arrays such as mirrors) replaced by the later file.
    /// </summary>
    public static BerthConfig Merge(IReadOnlyList<(string Path, byte[] Bytes)> files)
    {
        var merged = new JsonObject();
        foreach (var (path, bytes) in files)
        {
            Parse(bytes, path);
            var node = JsonNode.Parse(bytes, documentOptions: DocumentOptions);
            MergeInto(merged, node as JsonObject ?? throw new ConfigException($"{path}: the file must hold a JSON object"));
        }
        try
        {
            return merged.Deserialize(ConfigJsonContext.Default.BerthConfig) ?? new BerthConfig();
        }
        catch (JsonException error)
        {
            throw new ConfigException($"{string.Join(" + ", files.Select(file => file.Path))}: {error.Message}");
        }
    }

    private static void MergeInto(JsonObject target, JsonObject source)
    {
        foreach (var (key, value) in source)
        {
            if (value is JsonObject child && target[key] is JsonObject existing)
            {
                MergeInto(existing, child);
            }
            else
            {
                target[key] = value?.DeepClone();
            }
        }
    }

    private static readonly JsonDocumentOptions DocumentOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    public static BerthConfig Parse(ReadOnlySpan<byte> json, string path)
    {
        try
        {
            return JsonSerializer.Deserialize(json, ConfigJsonContext.Default.BerthConfig)
                ?? throw new ConfigException($"{path}: the file must hold a JSON object");
        }
        catch (JsonException error)
        {
            // Our own words: System.Text.Json's name .NET types and members, which mean nothing to an operator.
            string key = (error.Path ?? "$").TrimStart('$').TrimStart('.');
            string line = error.LineNumber is { } number ? $" (line {number + 1})" : "";
            var unknown = System.Text.RegularExpressions.Regex.Match(error.Message, "property '([^']*)' could not be mapped");
            string name = unknown.Groups[1].Value;
            // The JSON path may already end with the unknown member's name (it does in .NET 10).
            string unknownKey = key == name || key.EndsWith("." + name, StringComparison.Ordinal) ? key : key.Length > 0 ? $"{key}.{name}" : name;
            throw new ConfigException(unknown.Success
                ? $"{path}: unknown key {unknownKey}{line}; the keys are listed in berthd's README"
                : $"{path}: {(key.Length > 0 ? key : "the file")}: not valid JSON, or a value of the wrong type or out of range{line}");
        }
    }

    public static string Serialize(BerthConfig config) => JsonSerializer.Serialize(config, ConfigJsonContext.Default.BerthConfig);

    public static void Validate(BerthConfig config)
    {
        // JSON null where an object or list belongs: refused here, not met later as a crash.
        RequireValue("registries", config.Registries);
        RequireValue("blockIo", config.BlockIo);
        RequireValue("cni", config.Cni);
        RequireValue("cni.binDirs", config.Cni.BinDirs);
        RequireValue("cni.confDir", config.Cni.ConfDir);
        RequireValue("cdiSpecDirs", config.CdiSpecDirs);
        foreach (var (host, registry) in config.Registries)
        {
            RequireValue($"registries.{host}", registry);
            RequireValue($"registries.{host}.mirrors", registry.Mirrors);
        }
        foreach (var (key, list) in new (string, object?)[]
        {
            ("blockIo.weightDevice", config.BlockIo.WeightDevice), ("blockIo.throttleReadBpsDevice", config.BlockIo.ThrottleReadBpsDevice),
            ("blockIo.throttleWriteBpsDevice", config.BlockIo.ThrottleWriteBpsDevice), ("blockIo.throttleReadIopsDevice", config.BlockIo.ThrottleReadIopsDevice),
            ("blockIo.throttleWriteIopsDevice", config.BlockIo.ThrottleWriteIopsDevice),
        })
        {
            RequireValue(key, list);
        }
        if (!config.Listen.StartsWith("unix:///", StringComparison.Ordinal))
        {
            throw Refuse("listen", $"'{config.Listen}' must be unix:// followed by an absolute socket path");
        }
        if (config.AdminListen is { } admin && !admin.StartsWith("unix:///", StringComparison.Ordinal))
        {
            throw Refuse("adminListen", $"'{admin}' must be unix:// followed by an absolute socket path");
        }
        if (config.AdminSocketPath == config.SocketPath)
        {
            throw Refuse("adminListen", "the admin socket cannot be the CRI socket (listen)");
        }
        RequireAbsolute("root", config.Root);
        if (config.ImportDirectory is { } import)
        {
            RequireAbsolute("importDirectory", import);
        }
        RequireAbsolute("state", config.State);
        if (config.LoginFile is { } loginFile)
        {
            RequireAbsolute("loginFile", loginFile);
        }
        if (config.PushChunkBytes is < 4096 or > 1L << 30)
        {
            throw Refuse("pushChunkBytes", $"{config.PushChunkBytes} is outside 4096..1073741824");
        }
        RequireAbsolute("seccompProfileRoot", config.SeccompProfileRoot);
        foreach (string directory in config.CdiSpecDirs)
        {
            RequireAbsolute("cdiSpecDirs", directory);
        }
        if (config.MetricsAddress is { } metrics &&
            (!IPEndPoint.TryParse(metrics, out var endPoint) || !IPAddress.IsLoopback(endPoint.Address) || endPoint.Port == 0))
        {
            throw Refuse("metricsAddress", $"'{metrics}' must be a loopback HOST:PORT such as 127.0.0.1:9464");
        }
        if (config.MaxConcurrentDownloads is < 1 or > 64)
        {
            throw Refuse("maxConcurrentDownloads", $"{config.MaxConcurrentDownloads} is outside 1..64");
        }
        if (config.StatsCollectPeriodSeconds is < 1 or > 600)
        {
            throw Refuse("statsCollectPeriodSeconds", $"{config.StatsCollectPeriodSeconds} is outside 1..600");
        }
        if (config.ContainerEventsQueueLength is < 1 or > 1_000_000)
        {
            throw Refuse("containerEventsQueueLength", $"{config.ContainerEventsQueueLength} is outside 1..1000000");
        }
        if (config.PullProgressTimeoutSeconds is < 1 or > 3600)
        {
            throw Refuse("pullProgressTimeoutSeconds", $"{config.PullProgressTimeoutSeconds} is outside 1..3600");
        }
        if (!Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(config.LogLevel, ignoreCase: true, out _))
        {
            throw Refuse("logLevel", $"'{config.LogLevel}' is not one of Trace, Debug, Information, Warning, Error, Critical");
        }
        ValidateCni(config.Cni);
        ValidateStreaming(config.Streaming);
        if (config.CgroupDriver is not ("cgroupfs" or "systemd"))
        {
            throw Refuse("cgroupDriver", $"'{config.CgroupDriver}' is not cgroupfs or systemd");
        }
        if (!config.SystemdBusAddress.StartsWith("unix:", StringComparison.Ordinal))
        {
            throw Refuse("systemdBusAddress", $"'{config.SystemdBusAddress}' must be a unix: D-Bus address such as unix:path=/run/systemd/private");
        }
        foreach (var (host, registry) in config.Registries)
        {
            if (string.IsNullOrWhiteSpace(host) || host.Contains('/'))
            {
                throw Refuse($"registries.{host}", $"'{host}' must be a registry host such as registry.k8s.io or myreg:5443");
            }
            foreach (var mirror in registry.Mirrors)
            {
                if (RegistryHostConfig.MirrorProblem(mirror) is { } problem)
                {
                    throw Refuse($"registries.{host}.mirrors", $"'{mirror}' {problem}");
                }
            }
            if (registry.Ca is { } ca && RegistryHostConfig.CaProblem(ca) is { } caProblem)
            {
                throw Refuse($"registries.{host}.ca", caProblem);
            }
            if (registry.Auth is { } auth && RegistryHostConfig.AuthProblem(auth) is { } authProblem)
            {
                // Checked here so that a typo fails the start (or the reload), not every pull from the registry.
                throw Refuse($"registries.{host}.auth", authProblem);
            }
        }
        try
        {
            BlockIoSettings.CheckDefaults(config.BlockIo);
        }
        catch (SpecException error)
        {
            // The planner's message starts with the key inside blockIo ("weightDevice: ...").
            int colon = error.Message.IndexOf(": ", StringComparison.Ordinal);
            throw colon > 0
                ? Refuse($"blockIo.{error.Message[..colon]}", error.Message[(colon + 2)..])
                : Refuse("blockIo", error.Message);
        }
        if (!File.Exists(config.ShimPath) || (File.GetUnixFileMode(config.ShimPath) & UnixFileMode.UserExecute) == 0)
        {
            throw Refuse("shimPath", $"'{config.ShimPath}' is not an executable file");
        }
    }

    /// <summary>A refusal of the value of <paramref name="key"/> (a dotted path of JSON names, such as <c>cni.confDir</c>).</summary>
    private static ConfigException Refuse(string key, string problem) => new($"{key}: {problem}") { Key = key };

    private static void RequireValue(string key, object? value)
    {
        if (value is null)
        {
            throw Refuse(key, "must not be null");
        }
    }

    private static void ValidateCni(Network.CniSettings cni)
    {
        RequireAbsolute("cni.confDir", cni.ConfDir);
        if (cni.BinDirs.Count == 0)
        {
            throw Refuse("cni.binDirs", "at least one directory is needed");
        }
        foreach (string dir in cni.BinDirs)
        {
            RequireAbsolute("cni.binDirs", dir);
            if (dir.Contains(':'))
            {
                throw Refuse("cni.binDirs", $"'{dir}' cannot hold ':', which separates CNI_PATH");
            }
        }
        if (cni.PluginTimeoutSeconds is < 1 or > 3600)
        {
            throw Refuse("cni.pluginTimeoutSeconds", $"{cni.PluginTimeoutSeconds} is outside 1..3600");
        }
        if (cni.ConfTemplate is { } template)
        {
            RequireAbsolute("cni.confTemplate", template);
            if (!File.Exists(template))
            {
                throw Refuse("cni.confTemplate", $"no such file '{template}'");
            }
        }
    }

    private static void ValidateStreaming(StreamingConfig streaming)
    {
        if (!IPAddress.TryParse(streaming.Address, out _))
        {
            throw Refuse("streaming.address", $"'{streaming.Address}' must be an IP address such as 127.0.0.1");
        }
        if (streaming.Port is < 0 or > 65535)
        {
            throw Refuse("streaming.port", $"{streaming.Port} is outside 0..65535");
        }
        if ((streaming.TlsCertFile is null) != (streaming.TlsKeyFile is null))
        {
            throw Refuse(streaming.TlsCertFile is null ? "streaming.tlsKeyFile" : "streaming.tlsCertFile",
                "streaming.tlsCertFile and streaming.tlsKeyFile go together: set both or neither");
        }
        foreach (var (key, file) in new[] { ("tlsCertFile", streaming.TlsCertFile), ("tlsKeyFile", streaming.TlsKeyFile) })
        {
            if (file is not null && !File.Exists(file))
            {
                throw Refuse($"streaming.{key}", $"no such file '{file}'");
            }
        }
        if (streaming.IdleTimeoutSeconds is < 1 or > 7 * 24 * 60 * 60)
        {
            throw Refuse("streaming.idleTimeoutSeconds", $"{streaming.IdleTimeoutSeconds} is outside 1..604800");
        }
        if (streaming.MaxExecsPerContainer is < ExecLimits.MinExecs or > ExecLimits.MaxExecs)
        {
            throw Refuse("streaming.maxExecsPerContainer", $"{streaming.MaxExecsPerContainer} is outside "
                + $"{ExecLimits.MinExecs}..{ExecLimits.MaxExecs} ({ExecLimits.KeptForExecSync} are kept for ExecSync)");
        }
    }

    private static void RequireAbsolute(string key, string path)
    {
        if (!Path.IsPathFullyQualified(path))
        {
            throw Refuse(key, $"'{path}' must be an absolute path");
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

/// <summary>A configuration berthd refuses; <see cref="Exception.Message"/> names the file and the key.</summary>
public sealed class ConfigException(string message) : Exception(message)
{
    /// <summary>The refused key as a dotted path of JSON names (<c>registries.myreg:5443.ca</c>), when the refusal is of one value.</summary>
    public string? Key { get; init; }
}
