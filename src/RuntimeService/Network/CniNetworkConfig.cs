using System.Text.Json;
using System.Text.Json.Nodes;

namespace Berth.RuntimeService.Network;

/// <summary>One plugin of a network: its binary's name, the capabilities it asks the runtime for, and its configuration object as written.</summary>
public sealed record CniPluginConfig(string Type, IReadOnlySet<string> Capabilities, JsonObject Json);

/// <summary>
/// A CNI network configuration (spec section 1): a named list of plugins run in order, the version the
/// runtime speaks to them, and the switches for CHECK and GC. Parsed as libcni parses it
/// (<c>NetworkConfFromBytes</c>, <c>ConfFromBytes</c> + <c>ConfListFromConf</c>).
/// </summary>
/// <param name="CniVersion">The selected version: the highest of <c>cniVersion</c> and <c>cniVersions</c> that berthd speaks.</param>
/// <param name="Source">The file it came from, for messages.</param>
public sealed record CniNetworkConfig(
    string Name, CniVersion CniVersion, bool DisableCheck, bool DisableGc, IReadOnlyList<CniPluginConfig> Plugins, string Source)
{
    /// <summary>The file extensions libcni's runtimes read, a list (.conflist) or a single plugin (.conf, .json).</summary>
    public static readonly IReadOnlyList<string> Extensions = [".conflist", ".conf", ".json"];

    /// <summary>Parses a file's text by its extension; throws <see cref="CniConfigException"/> naming <paramref name="source"/> and what is wrong.</summary>
    public static CniNetworkConfig Parse(string text, string source) =>
        source.EndsWith(".conflist", StringComparison.Ordinal) ? ParseList(text, source) : ParseSingle(text, source);

    /// <summary>A network configuration list (.conflist): <c>name</c>, <c>cniVersion</c>/<c>cniVersions</c>, <c>plugins</c>.</summary>
    public static CniNetworkConfig ParseList(string text, string source)
    {
        var root = ParseObject(text, source);
        if (!root.TryGetPropertyValue("plugins", out var pluginsNode) || pluginsNode is not JsonArray pluginsArray)
        {
            throw new CniConfigException($"{source}: a configuration list needs a 'plugins' array");
        }
        if (pluginsArray.Count == 0)
        {
            throw new CniConfigException($"{source}: 'plugins' is empty");
        }
        var plugins = new List<CniPluginConfig>();
        for (int i = 0; i < pluginsArray.Count; i++)
        {
            if (pluginsArray[i] is not JsonObject plugin)
            {
                throw new CniConfigException($"{source}: plugins[{i}] is not an object");
            }
            plugins.Add(Plugin(plugin, $"{source}: plugins[{i}]"));
        }
        return new CniNetworkConfig(ReadName(root, source), SelectVersion(root, source),
            ReadBool(root, "disableCheck", source), ReadBool(root, "disableGC", source), plugins, source);
    }

    /// <summary>A single plugin's configuration (.conf, .json), which becomes a list of one, as libcni's ConfListFromConf makes it.</summary>
    public static CniNetworkConfig ParseSingle(string text, string source)
    {
        var root = ParseObject(text, source);
        if (!root.ContainsKey("type") && root.ContainsKey("plugins"))
        {
            throw new CniConfigException($"{source}: a configuration list belongs in a .conflist file");
        }
        return new CniNetworkConfig(ReadName(root, source), SelectVersion(root, source), false, false, [Plugin(root, source)], source);
    }

    /// <summary>The configuration as a list, in the form <see cref="ParseList"/> reads back: what an attachment records so its DEL uses what its ADD used.</summary>
    public JsonObject ToListJson()
    {
        var plugins = new JsonArray();
        foreach (var plugin in Plugins)
        {
            plugins.Add(plugin.Json.DeepClone());
        }
        return new JsonObject
        {
            ["cniVersion"] = CniVersion.ToString(),
            ["name"] = Name,
            ["disableCheck"] = DisableCheck,
            ["disableGC"] = DisableGc,
            ["plugins"] = plugins,
        };
    }

    private static JsonObject ParseObject(string text, string source)
    {
        try
        {
            return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                ?? throw new CniConfigException($"{source}: the file must hold a JSON object");
        }
        catch (JsonException error)
        {
            throw new CniConfigException($"{source}: not valid JSON: {error.Message}");
        }
    }

    private static CniPluginConfig Plugin(JsonObject plugin, string where)
    {
        string type = plugin.TryGetPropertyValue("type", out var typeNode) && typeNode is JsonValue value && value.TryGetValue(out string? text) ? text : "";
        if (type.Length == 0)
        {
            throw new CniConfigException($"{where}: 'type' (the plugin's binary) is missing");
        }
        if (type.Contains('/') || type.Contains('\\') || type is "." or "..")
        {
            throw new CniConfigException($"{where}: 'type' '{type}' must be a file name, not a path");
        }
        var capabilities = new HashSet<string>(StringComparer.Ordinal);
        if (plugin.TryGetPropertyValue("capabilities", out var capabilitiesNode) && capabilitiesNode is not null)
        {
            if (capabilitiesNode is not JsonObject map)
            {
                throw new CniConfigException($"{where}: 'capabilities' must be an object of booleans");
            }
            foreach (var (name, enabled) in map)
            {
                if (enabled is JsonValue flag && flag.TryGetValue(out bool on))
                {
                    if (on)
                    {
                        capabilities.Add(name);
                    }
                }
                else
                {
                    throw new CniConfigException($"{where}: capabilities.{name} must be true or false");
                }
            }
        }
        return new CniPluginConfig(type, capabilities, plugin);
    }

    /// <summary>libcni's ValidateNetworkName: an alphanumeric first character, then alphanumerics, '_', '.' or '-'.</summary>
    private static string ReadName(JsonObject root, string source)
    {
        string name = root.TryGetPropertyValue("name", out var node) && node is JsonValue value && value.TryGetValue(out string? text) ? text : "";
        if (name.Length == 0)
        {
            throw new CniConfigException($"{source}: 'name' is missing");
        }
        if (!char.IsAsciiLetterOrDigit(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
        {
            throw new CniConfigException($"{source}: name '{name}' must start with a letter or digit and hold only letters, digits, '_', '.' and '-'");
        }
        return name;
    }

    /// <summary>Spec 1.1 "version considerations": the highest of cniVersion and cniVersions that the runtime speaks.</summary>
    private static CniVersion SelectVersion(JsonObject root, string source)
    {
        var candidates = new List<string>();
        if (root.TryGetPropertyValue("cniVersion", out var single) && single is not null)
        {
            candidates.Add(single is JsonValue v && v.TryGetValue(out string? s) ? s : throw new CniConfigException($"{source}: 'cniVersion' must be a string"));
        }
        if (root.TryGetPropertyValue("cniVersions", out var many) && many is not null)
        {
            if (many is not JsonArray array || array.Any(item => item is not JsonValue value || !value.TryGetValue(out string? _)))
            {
                throw new CniConfigException($"{source}: 'cniVersions' must be a list of strings");
            }
            candidates.AddRange(array.Select(item => item!.GetValue<string>()));
        }
        if (candidates.Count == 0)
        {
            throw new CniConfigException($"{source}: 'cniVersion' is missing");
        }
        CniVersion? best = null;
        foreach (string candidate in candidates)
        {
            if (!CniVersion.TryParse(candidate, out var version))
            {
                throw new CniConfigException($"{source}: '{candidate}' is not a CNI version (MAJOR.MINOR.PATCH)");
            }
            if (version.IsSpoken && (best is null || version > best.Value))
            {
                best = version;
            }
        }
        return best ?? throw new CniConfigException(
            $"{source}: cniVersion {string.Join(", ", candidates)} is not one berth speaks ({CniVersion.Oldest} to {CniVersion.Newest})");
    }

    /// <summary>A boolean switch, which libcni also accepts as the strings "true" and "false".</summary>
    private static bool ReadBool(JsonObject root, string key, string source)
    {
        if (!root.TryGetPropertyValue(key, out var node) || node is null)
        {
            return false;
        }
        if (node is JsonValue value)
        {
            if (value.TryGetValue(out bool flag))
            {
                return flag;
            }
            if (value.TryGetValue(out string? text) && text.ToLowerInvariant() is "true" or "false")
            {
                return text.Equals("true", StringComparison.OrdinalIgnoreCase);
            }
        }
        throw new CniConfigException($"{source}: '{key}' must be true or false");
    }
}

/// <summary>The node's CNI configuration cannot be used; the message names the file or directory and what is wrong.</summary>
public sealed class CniConfigException(string message) : Exception(message);
