using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Berth.Core;
using Berth.Core.Errors;
using Berth.ImageService.Layers;
using Berth.ImageService.Registry;
using Berth.ImageService.Store;

namespace Berth.ImageService.Images;

/// <summary>An image to make on this node from one new layer (berthctl commit and import).</summary>
/// <param name="Base">The image the layer goes on top of (commit), or null for a one-layer image (import).</param>
/// <param name="Name">The name it gets, as <see cref="ImageManager.TagName"/> stores it.</param>
/// <param name="Changes">Dockerfile instructions applied to the config (<see cref="ImageChanges"/>).</param>
/// <param name="Comment">The history entry's comment (docker commit -m), or null.</param>
/// <param name="Author">The config's and history entry's author, or null.</param>
/// <param name="CreatedBy">The history entry's created_by: what made the layer.</param>
/// <param name="Source">What <see cref="ImageRecord.Source"/> says of it ("commit of ...", "import of ...").</param>
public sealed record NewImage(NamedImage? Base, string Name, IReadOnlyList<ImageChange> Changes, string? Comment, string? Author,
    string CreatedBy, string Source);

public sealed partial class ImageManager
{
    /// <summary>
    /// Makes an image of <paramref name="request"/>'s base (if any) and the layer in <paramref name="layerFile"/> (a tar,
    /// plain, gzip or zstd), in one transaction as a load is: the layer is unpacked into a snapshot workspace (refusing any
    /// entry that escapes it, as for pulls) and its digests computed, the config written (the base's, with the new diff ID,
    /// a history entry and the changes applied; for no base, an empty config for this node's platform) with an OCI
    /// manifest, and only then is everything committed and named.
    /// </summary>
    /// <param name="layerFile">A file from <see cref="ContentStore.NewTemporaryFile"/>: consumed (moved in as the layer's blob, or deleted).</param>
    /// <returns>The image, with its names.</returns>
    /// <exception cref="BerthException">InvalidArgument for a layer that is not a tar or holds an escaping entry; FailedPrecondition when the base image went meanwhile.</exception>
    public async Task<NamedImage> CreateImageAsync(NewImage request, string layerFile, CancellationToken ct)
    {
        using var activity = Telemetry.Source.StartActivity("image.create");
        var baseLayers = request.Base?.Image.Layers ?? [];
        var workspace = _content.NewSnapshotWorkspace();
        var workspaces = new Dictionary<string, string>(StringComparer.Ordinal);
        var blobs = new Dictionary<string, string>(StringComparer.Ordinal);
        Pin(baseLayers);
        try
        {
            var mediaType = await SniffMediaTypeAsync(layerFile, ct);
            UnpackResult unpacked;
            LayerRecord layer;
            await using (var file = File.OpenRead(layerFile))
            using (var stream = new HashingReadStream(file))
            {
                try
                {
                    unpacked = await LayerUnpacker.UnpackAsync(stream, mediaType, workspace, ct);
                }
                catch (Exception error) when (error is UnsafeLayerException or InvalidLayerException)
                {
                    throw BerthException.InvalidArgument($"the layer is refused: {error.Message}");
                }
                await stream.CopyToAsync(Stream.Null, ct);
                layer = new LayerRecord(stream.CurrentDigest(), mediaType, stream.BytesRead, unpacked.DiffId);
            }
            if (_store.HasSnapshot(layer.DiffId))
            {
                ContentStore.DeleteTree(workspace);
            }
            else
            {
                workspaces[layer.DiffId] = workspace;
            }
            if (!_content.HasBlob(layer.Digest))
            {
                blobs[layer.Digest] = layerFile;
            }
            Pin([layer]);
            try
            {
                var config = NewConfig(request, layer.DiffId, DateTimeOffset.UtcNow);
                var configDigest = Sha256Digest.Of(config);
                var layers = baseLayers.Append(layer).ToList();
                var manifest = OciManifest(configDigest, config.LongLength, layers);
                var image = new ImageRecord(
                    Id: configDigest,
                    ManifestDigest: Sha256Digest.Of(manifest),
                    ManifestMediaType: MediaTypes.OciManifest,
                    Layers: layers,
                    User: ImageConfig.Parse(config).User,
                    Size: manifest.LongLength + config.LongLength + layers.Sum(item => item.Size),
                    Source: request.Source,
                    PulledAt: DateTimeOffset.UtcNow);
                if (request.Base is { } baseImage && _store.FindById(baseImage.Image.Id) is null)
                {
                    throw BerthException.FailedPrecondition($"image {baseImage.Image.Id} was removed while the new image was being made on it");
                }
                await CommitAsync(workspaces, blobs, [new PendingImage(image, config, manifest, [request.Name])], $"({request.Source})", ct);
                return _store.FindById(image.Id) ?? throw BerthException.Unavailable($"image {image.Id} was removed as it was made; make it again");
            }
            finally
            {
                Unpin([layer]);
            }
        }
        finally
        {
            Unpin(baseLayers);
            foreach (var left in workspaces.Values.Append(workspace).Where(Directory.Exists))
            {
                ContentStore.DeleteTree(left);
            }
            File.Delete(layerFile);
        }
    }

    /// <summary>
    /// The new image's config: the base's (every field it has kept, as docker commit keeps them) or an empty one for this
    /// node's platform, with the layer's diff ID appended, a history entry, the author and the changes applied.
    /// </summary>
    private byte[] NewConfig(NewImage request, string diffId, DateTimeOffset now)
    {
        var created = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
        JsonObject root;
        if (request.Base is { } baseImage)
        {
            root = JsonNode.Parse(Encoding.UTF8.GetString(_content.ReadBlob(baseImage.Image.Id))) as JsonObject
                ?? throw new InvalidImageException($"the config of image {baseImage.Image.Id} is not a JSON object");
        }
        else
        {
            root = new JsonObject { ["architecture"] = Platform.Current.Architecture, ["os"] = Platform.Current.OS };
            if (Platform.Current.Variant is { } variant)
            {
                root["variant"] = variant;
            }
        }
        root["created"] = created;
        if (request.Author is { } author)
        {
            root["author"] = author;
        }
        var config = root["config"] as JsonObject ?? new JsonObject();
        root["config"] = config;
        ImageChanges.Apply(config, request.Changes);

        var rootfs = root["rootfs"] as JsonObject ?? new JsonObject { ["type"] = "layers" };
        root["rootfs"] = rootfs;
        var diffIds = rootfs["diff_ids"] as JsonArray ?? [];
        rootfs["diff_ids"] = diffIds;
        diffIds.Add((JsonNode?)JsonValue.Create(diffId));

        var history = root["history"] as JsonArray ?? [];
        root["history"] = history;
        var entry = new JsonObject { ["created"] = created, ["created_by"] = request.CreatedBy };
        if (request.Author is { } historyAuthor)
        {
            entry["author"] = historyAuthor;
        }
        if (request.Comment is { Length: > 0 } comment)
        {
            entry["comment"] = comment;
        }
        history.Add((JsonNode?)entry);
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }
}
