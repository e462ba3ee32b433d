using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.Api.Shim;

/// <summary>Source-generated (NativeAOT-safe) JSON for the OCI model: the spec's camelCase names, nulls not written.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = false,
    AllowTrailingCommas = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(OciSpec))]
[JsonSerializable(typeof(LinuxResources))]
[JsonSerializable(typeof(LinuxSeccomp))]
[JsonSerializable(typeof(OciState))]
public sealed partial class OciJsonContext : JsonSerializerContext;

/// <summary>
/// config.json as the exec stage reads it (<see cref="OciExecSpec"/>): a context of its own, so that
/// a stage started for every ExecSync builds serializer metadata for the process and the seccomp
/// filter only, and skips the rest of the file (mounts, resources, devices, ...) unparsed.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    AllowTrailingCommas = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(OciExecSpec))]
public sealed partial class OciExecJsonContext : JsonSerializerContext;

/// <summary>Reads and writes config.json and LinuxResources.</summary>
public static class OciJson
{
    /// <summary>config.json's content (the shim reads the file itself, so that its errors are in its own words).</summary>
    public static OciSpec ParseSpec(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, OciJsonContext.Default.OciSpec) ?? throw new JsonException("config.json is null");

    /// <summary>The parts of config.json an exec into the running container takes: the process and the seccomp filter.</summary>
    /// <exception cref="JsonException">Not JSON, or a member of the wrong type.</exception>
    public static OciExecSpec ParseExecSpec(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, OciExecJsonContext.Default.OciExecSpec) ?? throw new JsonException("config.json is null");

    /// <summary>The state JSON a hook reads on its stdin.</summary>
    public static byte[] Serialize(OciState state) => JsonSerializer.SerializeToUtf8Bytes(state, OciJsonContext.Default.OciState);

    public static byte[] Serialize(OciSpec spec) => JsonSerializer.SerializeToUtf8Bytes(spec, OciJsonContext.Default.OciSpec);

    public static LinuxResources ParseResources(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, OciJsonContext.Default.LinuxResources) ?? new LinuxResources();

    public static byte[] Serialize(LinuxResources resources) =>
        JsonSerializer.SerializeToUtf8Bytes(resources, OciJsonContext.Default.LinuxResources);

    /// <summary>A seccomp profile file (a Localhost profile): the OCI <c>linux.seccomp</c> object; members it does not know are ignored, as containerd does.</summary>
    /// <exception cref="JsonException">Not JSON, or a member of the wrong type.</exception>
    public static LinuxSeccomp ParseSeccomp(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, OciJsonContext.Default.LinuxSeccomp) ?? throw new JsonException("the profile is null");

    /// <summary>
    /// Writes a bundle's config.json atomically (temporary file, rename) without fsync: only the shim
    /// started next reads it, from the page cache, and a power cut ends every shim, so nothing reads a bundle
    /// after one; fsyncs would cost tens of milliseconds of each create on a busy disk.
    /// </summary>
    public static void WriteSpec(string path, OciSpec spec) => AtomicFile.Write(path, Serialize(spec), AtomicFile.Durability.None);
}
