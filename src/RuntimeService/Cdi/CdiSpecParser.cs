using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Berth.RuntimeService.Cdi;

/// <summary>A CDI spec file that cannot be used; the message says why (without the file's name).</summary>
public sealed class CdiSpecException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads and checks a CDI spec file as the CDI library's ReadSpec does (cncf-tags/container-device-interface
/// pkg/cdi/spec.go, device.go, container-edits.go, specs-go/version.go). Pure: text in, spec out.
/// </summary>
/// <remarks>
/// YAML goes through YamlDotNet's representation model (a parser, no reflection: NativeAOT-clean) into a JSON
/// tree, and both formats are then decoded by one source-generated System.Text.Json model, as the library
/// turns YAML into JSON (sigs.k8s.io/yaml) before one decoding: JSON and YAML files follow the same field
/// rules. YamlDotNet's object deserializer (reflection, or its static generator and a second model) is not used.
/// </remarks>
public static class CdiSpecParser
{
    /// <summary>Spec versions, newest first (specs-go/version.go); the library reads 0.1.0 and 0.2.0 too.</summary>
    private static readonly string[] s_versions = ["1.1.0", "1.0.0", "0.8.0", "0.7.0", "0.6.0", "0.5.0", "0.4.0", "0.3.0", "0.2.0", "0.1.0"];

    private static readonly HashSet<string> s_hookNames = new(StringComparer.Ordinal)
    {
        "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
    };

    /// <summary>
    /// Parses <paramref name="text"/> (YAML when <paramref name="yaml"/>, else JSON) and checks it: a known
    /// cdiVersion no older than the features used need, a valid kind, at least one device, valid unique device
    /// names, each device with edits, every edit well formed. Throws <see cref="CdiSpecException"/>.
    /// </summary>
    public static CdiSpecFile Parse(string text, bool yaml)
    {
        CdiSpecFile? spec;
        try
        {
            var tree = yaml ? YamlToJson(text) : JsonNode.Parse(text);
            spec = tree?.Deserialize(CdiJsonContext.Default.CdiSpecFile);
        }
        catch (Exception error) when (error is JsonException or YamlException or FormatException or InvalidOperationException)
        {
            throw new CdiSpecException($"cannot be parsed: {error.Message}", error);
        }
        if (spec is null)
        {
            throw new CdiSpecException("holds no spec");
        }
        Validate(spec);
        return spec;
    }

    private static void Validate(CdiSpecFile spec)
    {
        string version = spec.CdiVersion.StartsWith('v') ? spec.CdiVersion[1..] : spec.CdiVersion;
        int given = Array.IndexOf(s_versions, version);
        if (given < 0)
        {
            throw new CdiSpecException($"has cdiVersion \"{spec.CdiVersion}\", not one of {string.Join(", ", s_versions)}");
        }
        string needed = RequiredVersion(spec);
        if (Array.IndexOf(s_versions, needed) < given)
        {
            throw new CdiSpecException($"has cdiVersion {version}, but what it uses needs at least {needed}");
        }
        if (CdiNames.KindProblem(spec.Kind) is { } kind)
        {
            throw new CdiSpecException($"kind \"{spec.Kind}\" {kind}");
        }
        Validate(spec.ContainerEdits, "its containerEdits");
        if (spec.Devices is not { Count: > 0 } devices)
        {
            throw new CdiSpecException("lists no devices");
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var device in devices)
        {
            if (CdiNames.DeviceNameProblem(device.Name) is { } problem)
            {
                throw new CdiSpecException($"a device {problem}");
            }
            if (!names.Add(device.Name))
            {
                throw new CdiSpecException($"lists device \"{device.Name}\" twice");
            }
            if (device.ContainerEdits is not { IsEmpty: false } edits)
            {
                throw new CdiSpecException($"device \"{device.Name}\" has no containerEdits");
            }
            Validate(edits, $"device \"{device.Name}\"");
        }
    }

    private static void Validate(CdiContainerEdits? edits, string where)
    {
        if (edits is null)
        {
            return;
        }
        ValidateEnv(edits.Env, where);
        foreach (var node in edits.DeviceNodes ?? [])
        {
            if (node.Path.Length == 0)
            {
                throw new CdiSpecException($"{where}: a device node has no path");
            }
            if (node.Type is not (null or "" or "b" or "c" or "u" or "p"))
            {
                throw new CdiSpecException($"{where}: device node {node.Path} has type \"{node.Type}\", not b, c, u or p");
            }
            if (node.Permissions is { Length: > 0 } permissions && permissions != "none" && permissions.Trim('r', 'w', 'm').Length > 0)
            {
                throw new CdiSpecException($"{where}: device node {node.Path} has permissions \"{permissions}\", not some of rwm or none");
            }
        }
        foreach (var hook in edits.Hooks ?? [])
        {
            if (!s_hookNames.Contains(hook.HookName))
            {
                throw new CdiSpecException($"{where}: hook name \"{hook.HookName}\" is not one of {string.Join(", ", s_hookNames)}");
            }
            if (hook.Path.Length == 0)
            {
                throw new CdiSpecException($"{where}: the {hook.HookName} hook has no path");
            }
            ValidateEnv(hook.Env, $"{where}: the {hook.HookName} hook");
        }
        foreach (var mount in edits.Mounts ?? [])
        {
            if (mount.HostPath.Length == 0 || mount.ContainerPath.Length == 0)
            {
                throw new CdiSpecException($"{where}: a mount lacks its hostPath or containerPath");
            }
        }
    }

    private static void ValidateEnv(List<string>? env, string where)
    {
        if (env?.FirstOrDefault(entry => entry.IndexOf('=') <= 0) is { } bad)
        {
            throw new CdiSpecException($"{where}: environment entry \"{bad}\" is not NAME=VALUE");
        }
    }

    /// <summary>The oldest version that has every feature the spec uses (specs-go/version.go's requiresV*).</summary>
    private static string RequiredVersion(CdiSpecFile spec)
    {
        var edits = (spec.Devices ?? []).Select(device => device.ContainerEdits).Append(spec.ContainerEdits).OfType<CdiContainerEdits>().ToList();
        if (edits.Any(e => e.NetDevices is { Count: > 0 }
                || e.IntelRdt is { ValueKind: JsonValueKind.Object } rdt && (rdt.TryGetProperty("schemata", out _) || rdt.TryGetProperty("enableMonitoring", out var monitoring) && monitoring.ValueKind == JsonValueKind.True)))
        {
            return "1.1.0";
        }
        if (edits.Any(e => e.IntelRdt is not null || e.AdditionalGids is { Count: > 0 }))
        {
            return "0.7.0";
        }
        if (spec.Annotations is { Count: > 0 } || (spec.Devices ?? []).Any(device => device.Annotations is { Count: > 0 })
            || spec.Kind.IndexOf('/') is var slash and >= 0 && spec.Kind[(slash + 1)..].Contains('.'))
        {
            return "0.6.0";
        }
        if ((spec.Devices ?? []).Any(device => device.Name.Length > 0 && char.IsAsciiDigit(device.Name[0]))
            || edits.Any(e => (e.DeviceNodes ?? []).Any(node => node.HostPath is { Length: > 0 })))
        {
            return "0.5.0";
        }
        return edits.Any(e => (e.Mounts ?? []).Any(mount => mount.Type is { Length: > 0 })) ? "0.4.0" : "0.3.0";
    }

    /// <summary>
    /// A YAML document as a JSON tree. Plain scalars become numbers (decimal, 0x hex, 0o or leading-0 octal as
    /// YAML 1.1 reads them: <c>fileMode: 0666</c> is 438), booleans and nulls as YAML reads them; quoted ones
    /// stay strings.
    /// </summary>
    internal static JsonNode? YamlToJson(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        if (stream.Documents.Count == 0)
        {
            return null;
        }
        if (stream.Documents.Count > 1)
        {
            throw new FormatException("holds more than one YAML document");
        }
        int budget = MaxYamlNodes;
        return Convert(stream.Documents[0].RootNode, 0, ref budget);
    }

    /// <summary>
    /// Nodes a YAML spec may expand to, and how deep it may nest (as System.Text.Json's default depth). YAML
    /// aliases repeat a node wherever they are used, so a few hundred bytes of nested aliases expand to
    /// billions of nodes (the "billion laughs"); go-yaml, which the CDI library reads YAML with, refuses
    /// "excessive aliasing" for the same reason. A real spec is a few hundred nodes.
    /// </summary>
    private const int MaxYamlNodes = 100_000;
    private const int MaxYamlDepth = 64;

    private static JsonNode? Convert(YamlNode node, int depth, ref int budget)
    {
        if (--budget < 0)
        {
            throw new FormatException($"expands to more than {MaxYamlNodes} nodes (aliases used over and over?)");
        }
        if (depth > MaxYamlDepth)
        {
            throw new FormatException($"nests deeper than {MaxYamlDepth} levels at {node.Start}");
        }
        switch (node)
        {
            case YamlMappingNode mapping:
                var obj = new JsonObject();
                foreach (var (key, value) in mapping.Children)
                {
                    string name = key is YamlScalarNode { Value: { } text } ? text : throw new FormatException($"a mapping key at {key.Start} is not a scalar");
                    if (obj.ContainsKey(name))
                    {
                        throw new FormatException($"key \"{name}\" appears twice at {key.Start}");
                    }
                    obj[name] = Convert(value, depth + 1, ref budget);
                }
                return obj;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                foreach (var item in sequence.Children)
                {
                    array.Add(Convert(item, depth + 1, ref budget));
                }
                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                throw new FormatException($"unsupported YAML node at {node.Start}");
        }
    }

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        string text = scalar.Value ?? "";
        if (scalar.Style is not ScalarStyle.Plain)
        {
            return JsonValue.Create(text);
        }
        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }
        bool negative = text.StartsWith('-');
        string digits = text.TrimStart('-', '+');
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            && long.TryParse(digits[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long hex))
        {
            return JsonValue.Create(negative ? -hex : hex);
        }
        string? octal = digits.StartsWith("0o", StringComparison.OrdinalIgnoreCase) ? digits[2..]
            : digits.Length > 1 && digits[0] == '0' ? digits[1..]
            : null;
        if (octal is { Length: > 0 } && octal.All(c => c is >= '0' and <= '7'))
        {
            long value = octal.Aggregate(0L, (sum, c) => checked(sum * 8 + (c - '0')));
            return JsonValue.Create(negative ? -value : value);
        }
        if (digits.Length > 0 && digits.All(char.IsAsciiDigit) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long number))
        {
            return JsonValue.Create(number);
        }
        return JsonValue.Create(text);
    }
}
