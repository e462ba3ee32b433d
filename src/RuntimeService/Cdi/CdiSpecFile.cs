using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.RuntimeService.Cdi;

// The CDI spec file as cncf-tags/container-device-interface's specs-go/config.go defines it (spec
// versions 0.3.0 to 1.1.0). Member names match case-insensitively and an unknown member refuses the file,
// as the CDI library's UnmarshalStrict does (Go's JSON decoding ignores case). Settable, not init: the
// source generator would set a member the file leaves out to null rather than keep its default.

/// <summary>One CDI spec file: a kind (<c>vendor.com/class</c>), its devices, and edits every requested device of it brings.</summary>
public sealed record CdiSpecFile
{
    public string CdiVersion { get; set; } = "";
    public string Kind { get; set; } = "";
    public Dictionary<string, string>? Annotations { get; set; }
    public List<CdiDevice>? Devices { get; set; }
    public CdiContainerEdits? ContainerEdits { get; set; }
}

/// <summary>A device of a spec: its name (the part after '=' of a qualified name) and its own edits.</summary>
public sealed record CdiDevice
{
    public string Name { get; set; } = "";
    public Dictionary<string, string>? Annotations { get; set; }
    public CdiContainerEdits? ContainerEdits { get; set; }
}

/// <summary>What a device (or its spec, for any of its devices) changes in the container's OCI spec.</summary>
public sealed record CdiContainerEdits
{
    /// <summary><c>NAME=VALUE</c> entries, each replacing a variable of the same name.</summary>
    public List<string>? Env { get; set; }
    public List<CdiDeviceNode>? DeviceNodes { get; set; }
    public List<CdiHook>? Hooks { get; set; }
    public List<CdiMount>? Mounts { get; set; }
    /// <summary>Spec 0.7.0 (closID, schemata): kept only to be refused, berth applies no RDT class.</summary>
    public JsonElement? IntelRdt { get; set; }
    /// <summary>Spec 1.1.0 (host interfaces moved into the container): kept only to be refused.</summary>
    public List<JsonElement>? NetDevices { get; set; }
    /// <summary>Spec 0.7.0: supplementary groups added to the process (0 is skipped).</summary>
    public List<uint>? AdditionalGids { get; set; }

    public bool IsEmpty =>
        Env is not { Count: > 0 } && DeviceNodes is not { Count: > 0 } && Hooks is not { Count: > 0 } && Mounts is not { Count: > 0 }
        && IntelRdt is null && NetDevices is not { Count: > 0 } && AdditionalGids is not { Count: > 0 };
}

/// <summary>
/// A device node in the container at <see cref="Path"/>, from <see cref="HostPath"/> (default: the same
/// path). What is not given (type, major/minor, file mode) is read from the host node.
/// </summary>
public sealed record CdiDeviceNode
{
    public string Path { get; set; } = "";
    public string? HostPath { get; set; }
    /// <summary><c>c</c>, <c>b</c>, <c>u</c> or <c>p</c>; empty: the host node's.</summary>
    public string? Type { get; set; }
    public long Major { get; set; }
    public long Minor { get; set; }
    /// <summary>Permission bits (a number; YAML's 0666 is octal); null: the host node's.</summary>
    public uint? FileMode { get; set; }
    /// <summary>Device cgroup access: some of <c>rwm</c>; empty means <c>rwm</c>, <c>none</c> no rule.</summary>
    public string? Permissions { get; set; }
    public uint? Uid { get; set; }
    public uint? Gid { get; set; }
}

/// <summary>A mount of <see cref="HostPath"/> at <see cref="ContainerPath"/>, with OCI mount options.</summary>
public sealed record CdiMount
{
    public string HostPath { get; set; } = "";
    public string ContainerPath { get; set; } = "";
    public List<string>? Options { get; set; }
    public string? Type { get; set; }
}

/// <summary>An OCI hook: <c>createRuntime</c>, <c>createContainer</c>, <c>startContainer</c>, <c>poststart</c>, <c>poststop</c> (or the old <c>prestart</c>).</summary>
public sealed record CdiHook
{
    public string HookName { get; set; } = "";
    public string Path { get; set; } = "";
    public List<string>? Args { get; set; }
    public List<string>? Env { get; set; }
    public int? Timeout { get; set; }
}

/// <summary>Source-generated (NativeAOT) decoding of <see cref="CdiSpecFile"/>, strict about unknown members.</summary>
[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = true,
    RespectNullableAnnotations = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    Converters = [typeof(ScalarAsStringConverter)])]
[JsonSerializable(typeof(CdiSpecFile))]
internal sealed partial class CdiJsonContext : JsonSerializerContext;

/// <summary>
/// A string member given as an unquoted YAML number or boolean (<c>name: 0</c>) reads as its text, as the
/// CDI library's YAML decoding (sigs.k8s.io/yaml, which knows the member's type) reads it.
/// </summary>
internal sealed class ScalarAsStringConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(reader.ValueSpan),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => null,
        _ => throw new JsonException($"expected a string, found {reader.TokenType}"),
    };

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetString()!;

    public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WritePropertyName(value);
}
