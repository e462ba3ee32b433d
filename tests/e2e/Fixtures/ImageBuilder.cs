using System.Text.Json;
using System.Text.Json.Nodes;

namespace Berth.Tests.E2e.Fixtures;

/// <summary>
/// Makes images from <see cref="ImageSpec"/>s (config JSON, manifest, index) and pushes them to a
/// <see cref="RegistryServer"/>. Tars come from <see cref="LayerBuilder"/>, HTTP from <see cref="RegistryClient"/>.
/// </summary>
public sealed class ImageBuilder(RegistryServer registry) : IDisposable
{
    private static readonly DateTimeOffset Created = LayerBuilder.DefaultModified;

    /// <summary>The HTTP side, for pushing hand-made blobs and manifests or reading them back.</summary>
    public RegistryClient Client { get; } = new(registry);

    /// <summary>Pushes one image and tags its manifest.</summary>
    public async Task<PushedImage> PushAsync(string repository, string tag, ImageSpec image, ManifestFormat format = ManifestFormat.Oci)
    {
        var manifest = await PushManifestAsync(repository, tag, image, format);
        return new PushedImage(registry.Host, repository, tag, IndexDigest: null, [manifest]);
    }

    /// <summary>Pushes one image per platform (manifests by digest, as the registry wants them before the index) and tags the index.</summary>
    public async Task<PushedImage> PushIndexAsync(string repository, string tag, IReadOnlyList<ImageSpec> images, ManifestFormat format = ManifestFormat.Oci)
    {
        var manifests = new List<PushedManifest>();
        foreach (var image in images)
        {
            manifests.Add(await PushManifestAsync(repository, reference: null, image, format));
        }

        var mediaType = format == ManifestFormat.Oci ? MediaTypes.OciIndex : MediaTypes.DockerManifestList;
        var index = Serialize(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = mediaType,
            ["manifests"] = new JsonArray([.. manifests.Select(m => Descriptor(m.MediaType, m.Digest, m.Size, PlatformJson(m.Platform)))]),
        });
        var indexDigest = await Client.PushManifestAsync(repository, tag, mediaType, index);
        return new PushedImage(registry.Host, repository, tag, indexDigest, manifests);
    }

    public void Dispose() => Client.Dispose();

    /// <summary>
    /// A docker-archive as docker save (before 25) writes it: each config as HEX.json, each layer as an uncompressed
    /// DIFFHEX/layer.tar, and manifest.json listing them with each image's tags; gzip-compressed as a whole if asked.
    /// </summary>
    /// <returns>The archive and each image's ID (its config digest), in order.</returns>
    public static (byte[] Archive, IReadOnlyList<string> Ids) DockerArchive(IReadOnlyList<(ImageSpec Image, string[] Tags)> images, bool gzip = false)
    {
        var members = new List<(string Name, byte[] Content)>();
        var manifest = new JsonArray();
        var ids = new List<string>();
        foreach (var (image, tags) in images)
        {
            var layers = image.Layers.Select(layer => layer.Build()).ToList();
            var config = Serialize(ConfigJson(image, layers));
            var id = Digests.Sha256(config);
            ids.Add(id);
            members.Add(($"{id[7..]}.json", config));
            foreach (var layer in layers.Where(layer => members.All(member => member.Name != $"{layer.DiffId[7..]}/layer.tar")))
            {
                members.Add(($"{layer.DiffId[7..]}/layer.tar", layer.Tar));
            }
            manifest.Add(new JsonObject
            {
                ["Config"] = $"{id[7..]}.json",
                ["RepoTags"] = Strings(tags),
                ["Layers"] = Strings(layers.Select(layer => $"{layer.DiffId[7..]}/layer.tar").ToList()),
            });
        }
        members.Add(("manifest.json", Serialize(manifest)));
        return (Tar(members, gzip), ids);
    }

    private static byte[] Tar(IEnumerable<(string Name, byte[] Content)> members, bool gzip)
    {
        using var buffer = new MemoryStream();
        using (var compressed = gzip ? new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true) : null)
        {
            using var writer = new System.Formats.Tar.TarWriter(compressed ?? (Stream)buffer, System.Formats.Tar.TarEntryFormat.Pax, leaveOpen: true);
            foreach (var (name, content) in members)
            {
                writer.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
            }
        }
        return buffer.ToArray();
    }

    /// <summary>Pushes the layers, the config and the manifest: by tag, or by its own digest when <paramref name="reference"/> is null.</summary>
    private async Task<PushedManifest> PushManifestAsync(string repository, string? reference, ImageSpec image, ManifestFormat format)
    {
        var layers = image.Layers.Select(layer => layer.Build()).ToList();
        foreach (var layer in layers)
        {
            await Client.PushBlobAsync(repository, layer.Blob);
        }

        var config = Serialize(ConfigJson(image, layers));
        var configDigest = await Client.PushBlobAsync(repository, config);

        var mediaType = format == ManifestFormat.Oci ? MediaTypes.OciManifest : MediaTypes.DockerManifest;
        var manifest = Serialize(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = mediaType,
            ["config"] = Descriptor(format == ManifestFormat.Oci ? MediaTypes.OciConfig : MediaTypes.DockerConfig, configDigest, config.Length),
            ["layers"] = new JsonArray([.. layers.Select(layer => Descriptor(LayerMediaType(layer.Compression, format), layer.Digest, layer.Blob.Length))]),
        });
        var digest = await Client.PushManifestAsync(repository, reference ?? Digests.Sha256(manifest), mediaType, manifest);
        return new PushedManifest(
            image.Platform,
            mediaType,
            digest,
            manifest.Length,
            configDigest,
            [.. layers.Select(layer => layer.Digest)],
            [.. layers.Select(layer => layer.DiffId)],
            manifest.Length + config.Length + layers.Sum(layer => (long)layer.Blob.Length));
    }

    private static JsonObject ConfigJson(ImageSpec image, IReadOnlyList<BuiltLayer> layers)
    {
        var run = image.Config;
        var config = new JsonObject();
        AddIfSet(config, "User", run.User);
        AddIfSet(config, "ExposedPorts", EmptyObjectsByKey(run.ExposedPorts));
        AddIfSet(config, "Env", Strings(run.Env));
        AddIfSet(config, "Entrypoint", Strings(run.Entrypoint));
        AddIfSet(config, "Cmd", Strings(run.Cmd));
        AddIfSet(config, "Volumes", EmptyObjectsByKey(run.Volumes));
        AddIfSet(config, "WorkingDir", run.WorkingDir);
        AddIfSet(config, "Labels", run.Labels is null ? null : new JsonObject(run.Labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))));
        AddIfSet(config, "StopSignal", run.StopSignal);

        var json = new JsonObject
        {
            ["created"] = Created.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            ["architecture"] = image.Platform.Architecture,
            ["os"] = image.Platform.Os,
        };
        AddIfSet(json, "variant", image.Platform.Variant);
        json["config"] = config;
        json["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = Strings(layers.Select(layer => layer.DiffId).ToList()) };
        if (image.History is { } history)
        {
            json["history"] = new JsonArray([.. history.Select(HistoryJson)]);
        }

        return json;
    }

    private static JsonNode HistoryJson(HistoryEntry entry)
    {
        var json = new JsonObject { ["created"] = Created.ToString("yyyy-MM-ddTHH:mm:ssZ"), ["created_by"] = entry.CreatedBy };
        AddIfSet(json, "comment", entry.Comment);
        if (entry.EmptyLayer)
        {
            json["empty_layer"] = true;
        }

        return json;
    }

    private static JsonObject Descriptor(string mediaType, string digest, long size, JsonObject? platform = null)
    {
        var descriptor = new JsonObject { ["mediaType"] = mediaType, ["digest"] = digest, ["size"] = size };
        AddIfSet(descriptor, "platform", platform);
        return descriptor;
    }

    private static JsonObject PlatformJson(ImagePlatform platform)
    {
        var json = new JsonObject { ["architecture"] = platform.Architecture, ["os"] = platform.Os };
        AddIfSet(json, "variant", platform.Variant);
        return json;
    }

    private static string LayerMediaType(LayerCompression compression, ManifestFormat format) => (format, compression) switch
    {
        (ManifestFormat.Oci, LayerCompression.None) => MediaTypes.OciLayer,
        (ManifestFormat.Oci, LayerCompression.Gzip) => MediaTypes.OciLayerGzip,
        (ManifestFormat.Oci, LayerCompression.Zstd) => MediaTypes.OciLayerZstd,
        (ManifestFormat.Docker, LayerCompression.None) => MediaTypes.DockerLayer,
        (ManifestFormat.Docker, LayerCompression.Gzip) => MediaTypes.DockerLayerGzip,
        _ => throw new NotSupportedException($"Docker schema 2 has no media type for {compression} layers."),
    };

    private static JsonArray? Strings(IReadOnlyList<string>? values) =>
        values is null ? null : new JsonArray([.. values.Select(value => (JsonNode?)value)]);

    /// <summary>ExposedPorts and Volumes are sets, written as objects whose values are {}.</summary>
    private static JsonObject? EmptyObjectsByKey(IReadOnlyList<string>? keys) =>
        keys is null ? null : new JsonObject(keys.Select(key => KeyValuePair.Create(key, (JsonNode?)new JsonObject())));

    private static void AddIfSet(JsonObject json, string name, JsonNode? value)
    {
        if (value is not null)
        {
            json[name] = value;
        }
    }

    private static byte[] Serialize(JsonNode json) => JsonSerializer.SerializeToUtf8Bytes(json);
}
