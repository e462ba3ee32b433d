using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.Api.Shim;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(ShimOptions))]
[JsonSerializable(typeof(ExitRecord))]
public sealed partial class ShimJsonContext : JsonSerializerContext;

/// <summary>Reads and writes shim.json and the exit record.</summary>
public static class ShimJson
{
    /// <summary>shim.json's content (the shim reads the file itself, so that its errors are in its own words).</summary>
    public static ShimOptions ParseOptions(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, ShimJsonContext.Default.ShimOptions) ?? throw new JsonException("shim.json is null");

    /// <summary>Writes a bundle's shim.json atomically without fsync, for the reason <see cref="OciJson.WriteSpec"/> gives.</summary>
    public static void WriteOptions(string path, ShimOptions options) =>
        AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(options, ShimJsonContext.Default.ShimOptions), AtomicFile.Durability.None);

    public static byte[] Serialize(ExitRecord record) =>
        JsonSerializer.SerializeToUtf8Bytes(record, ShimJsonContext.Default.ExitRecord);

    /// <summary>The exit record, or null when the file does not exist (the process has not exited, or never ran).</summary>
    public static ExitRecord? TryReadExit(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        return JsonSerializer.Deserialize(bytes, ShimJsonContext.Default.ExitRecord);
    }
}
