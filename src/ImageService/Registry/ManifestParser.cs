using System.Text.Json;

namespace Berth.ImageService.Registry;

/// <summary>Reads OCI and Docker schema 2 manifests and indexes; refuses what the client cannot pull.</summary>
internal static class ManifestParser
{
    /// <summary>Registries cap manifests at 4 MiB too; a larger answer is not a manifest.</summary>
    public const int MaxManifestBytes = 4 * 1024 * 1024;

    /// <param name="contentType">The Content-Type of the answer, used when the body names no mediaType.</param>
    /// <param name="what">Names the manifest in messages, e.g. "manifest of docker.io/library/busybox:latest".</param>
    public static ManifestDocument Parse(ReadOnlySpan<byte> bytes, string? contentType, string what)
    {
        ManifestJson json;
        try
        {
            json = JsonSerializer.Deserialize(bytes, RegistryJsonContext.Default.ManifestJson)
                ?? throw new JsonException("the document is null");
        }
        catch (JsonException e)
        {
            throw new RegistryException(RegistryErrorKind.InvalidManifest, $"{what} is not valid manifest JSON: {e.Message}", e);
        }

        var mediaType = json.MediaType ?? contentType;
        if (mediaType is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed || json.SchemaVersion == 1)
        {
            throw new RegistryException(RegistryErrorKind.Unsupported,
                $"{what} is a Docker image manifest schema 1, which is deprecated and not supported: push the image again with a current client");
        }
        if (json.SchemaVersion != 2)
        {
            throw new RegistryException(RegistryErrorKind.InvalidManifest, $"{what} has schemaVersion {json.SchemaVersion}, not 2");
        }

        // An OCI document may omit mediaType and come with a generic Content-Type: then its fields tell.
        if (mediaType is not (MediaTypes.OciIndex or MediaTypes.DockerManifestList or MediaTypes.OciManifest or MediaTypes.DockerManifest)
            && json.MediaType is null)
        {
            mediaType = json.Manifests is not null ? MediaTypes.OciIndex : json.Config is not null ? MediaTypes.OciManifest : mediaType;
        }

        return mediaType switch
        {
            MediaTypes.OciIndex or MediaTypes.DockerManifestList => new ImageIndexDocument(mediaType,
                (json.Manifests ?? Invalid<IReadOnlyList<DescriptorJson>>(what, "has no \"manifests\""))
                    .Select((entry, i) => new IndexEntry(ToDescriptor(entry, $"{what}, manifests[{i}]"), ToPlatform(entry.Platform)))
                    .ToList()),
            MediaTypes.OciManifest or MediaTypes.DockerManifest => ToImageManifest(mediaType, json, what),
            _ => throw new RegistryException(RegistryErrorKind.Unsupported,
                $"{what} has media type \"{mediaType}\", which is neither an image manifest nor an image index"),
        };
    }

    private static ImageManifestDocument ToImageManifest(string mediaType, ManifestJson json, string what)
    {
        var config = ToDescriptor(json.Config ?? Invalid<DescriptorJson>(what, "has no \"config\""), $"{what}, config");
        if (config.MediaType is not (MediaTypes.OciConfig or MediaTypes.DockerConfig))
        {
            throw new RegistryException(RegistryErrorKind.Unsupported,
                $"{what} is not a container image: its config has media type \"{config.MediaType}\" (an OCI artifact?)");
        }
        var layers = (json.Layers ?? Invalid<IReadOnlyList<DescriptorJson>>(what, "has no \"layers\""))
            .Select((layer, i) => ToDescriptor(layer, $"{what}, layers[{i}]"))
            .ToList();
        // Refuse digests the client cannot verify now, rather than after a partial pull.
        foreach (var blob in layers.Prepend(config))
        {
            Sha256Digest.Require(blob.Digest, $"blob {blob.Digest} of {what}", RegistryErrorKind.InvalidManifest);
        }
        return new ImageManifestDocument(mediaType, config, layers);
    }

    private static Descriptor ToDescriptor(DescriptorJson json, string what) =>
        json is { MediaType: { Length: > 0 } mediaType, Digest: { Length: > 0 } digest, Size: { } size } && size >= 0
            ? new Descriptor(mediaType, digest, size)
            : Invalid<Descriptor>(what, "needs a mediaType, a digest and a size of at least 0");

    private static Platform? ToPlatform(PlatformJson? json) =>
        json is { Os: { Length: > 0 } os, Architecture: { Length: > 0 } architecture } ? new Platform(os, architecture, json.Variant) : null;

    private static T Invalid<T>(string what, string problem) =>
        throw new RegistryException(RegistryErrorKind.InvalidManifest, $"{what} {problem}");
}
