using System.Text.Json;

namespace Berth.ImageService.Images;

/// <summary>
/// The parts of an OCI image config (application/vnd.oci.image.config.v1+json, which Docker's config
/// matches) that a runtime uses. Read with JsonDocument: nothing reflection-bound, so it stays AOT-clean.
/// </summary>
public sealed record ImageConfig(
    IReadOnlyList<string> DiffIds,
    string? User,
    IReadOnlyList<string> Env,
    IReadOnlyList<string> Entrypoint,
    IReadOnlyList<string> Cmd,
    string? WorkingDir,
    string? StopSignal,
    IReadOnlyList<string> Volumes,
    IReadOnlyDictionary<string, string> Labels)
{
    public static ImageConfig Parse(ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException error)
        {
            throw new InvalidImageException($"image config is not valid JSON: {error.Message}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidImageException("image config is not a JSON object");
            }
            var rootfs = Property(root, "rootfs");
            var diffIds = Strings(rootfs is { } fs ? Property(fs, "diff_ids") : null);
            if (diffIds.Any(diffId => !diffId.StartsWith("sha256:", StringComparison.Ordinal) || diffId.Length != 71))
            {
                throw new InvalidImageException("image config has a diff ID that is not a sha256 digest");
            }
            var config = Property(root, "config");
            return new ImageConfig(
                DiffIds: diffIds,
                User: String(config, "User"),
                Env: Strings(config is { } c1 ? Property(c1, "Env") : null),
                Entrypoint: Strings(config is { } c2 ? Property(c2, "Entrypoint") : null),
                Cmd: Strings(config is { } c3 ? Property(c3, "Cmd") : null),
                WorkingDir: String(config, "WorkingDir"),
                StopSignal: String(config, "StopSignal"),
                Volumes: Keys(config is { } c4 ? Property(c4, "Volumes") : null).Select(pair => pair.Key).ToList(),
                Labels: Keys(config is { } c5 ? Property(c5, "Labels") : null).ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal));
        }
    }

    private static JsonElement? Property(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : null;

    private static string? String(JsonElement? element, string name) =>
        element is { } e && Property(e, name) is { ValueKind: JsonValueKind.String } value && value.GetString() is { Length: > 0 } text
            ? text
            : null;

    private static List<string> Strings(JsonElement? element) =>
        element is { ValueKind: JsonValueKind.Array } array
            ? array.EnumerateArray().Select(item => item.ValueKind == JsonValueKind.String
                ? item.GetString()!
                : throw new InvalidImageException("image config has a list with a non-string entry")).ToList()
            : [];

    private static List<KeyValuePair<string, string>> Keys(JsonElement? element) =>
        element is { ValueKind: JsonValueKind.Object } map
            ? map.EnumerateObject().Select(property => KeyValuePair.Create(property.Name,
                property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : "")).ToList()
            : [];
}
