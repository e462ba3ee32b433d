using System.Text.Json;
using Berth.Core;
using Berth.Core.Errors;
using Berth.ImageService.Layers;
using Berth.ImageService.Registry;
using Berth.ImageService.Store;
using Microsoft.Extensions.Logging;

namespace Berth.ImageService.Images;

public sealed partial class ImageManager
{
    /// <summary>
    /// Loads every image of an archive (docker-archive or OCI image layout, plain or gzip-compressed: docker load,
    /// ctr import) as one transaction: every member is read and every digest checked (configs against image IDs,
    /// layers against the diff IDs their configs state, and the blob digests the archive states) and every new
    /// layer unpacked before anything is committed, so a truncated, tampered or hostile archive leaves the store
    /// as it was. Each image gets the names the archive gives it, taken from any image they named before.
    /// </summary>
    /// <param name="archive">The archive, read once to its end; not disposed.</param>
    /// <returns>The images loaded, with their names.</returns>
    /// <exception cref="BerthException">
    /// InvalidArgument for an archive that is not one (or a member that is absolute, climbs out with "..", links out,
    /// or is a device), or a name that is no reference; DataLoss for a digest that does not match.
    /// </exception>
    public async Task<IReadOnlyList<NamedImage>> LoadAsync(Stream archive, CancellationToken ct)
    {
        using var activity = Telemetry.Source.StartActivity("image.load");
        var directory = _content.NewTemporaryDirectory();
        var workspaces = new Dictionary<string, string>(StringComparer.Ordinal);
        var blobs = new Dictionary<string, string>(StringComparer.Ordinal);
        var pinned = new List<LayerRecord>();
        try
        {
            var contents = await ImageArchive.ExtractAsync(archive, directory, ct);
            var loaded = new List<PendingImage>();
            foreach (var image in contents.Images())
            {
                var names = image.Names.Select(NameOf).ToList();
                var config = ImageConfig.Parse(image.Config);
                if (config.DiffIds.Count != image.Layers.Count)
                {
                    throw new InvalidImageException($"image {image.Id} of the archive: its config lists {config.DiffIds.Count} layers, the archive {image.Layers.Count}");
                }
                var layers = new List<LayerRecord>();
                for (var position = 0; position < image.Layers.Count; position++)
                {
                    var layer = await LoadLayerAsync(contents, image.Layers[position], config.DiffIds[position], workspaces, ct);
                    if (!_content.HasBlob(layer.Digest))
                    {
                        // Verified: kept as the layer's blob, so the image can be saved and pushed again (moved in at commit).
                        blobs.TryAdd(layer.Digest, contents.PathOf(image.Layers[position].Member));
                    }
                    pinned.Add(layer);
                    Pin([layer]);
                    layers.Add(layer);
                }
                var manifest = image.Manifest ?? DockerArchiveManifest(image, layers);
                loaded.Add(new PendingImage(new ImageRecord(
                    Id: image.Id,
                    ManifestDigest: Sha256Digest.Of(manifest),
                    ManifestMediaType: image.ManifestMediaType,
                    Layers: layers,
                    User: config.User,
                    Size: manifest.LongLength + image.Config.LongLength + layers.Sum(layer => layer.Size),
                    Source: "archive",
                    PulledAt: DateTimeOffset.UtcNow), image.Config, manifest, names));
            }

            await CommitAsync(workspaces, blobs, loaded, "from an archive", ct);
            return loaded.Select(image => image.Image.Id).Distinct(StringComparer.Ordinal).Select(_store.FindById).OfType<NamedImage>().ToList();
        }
        finally
        {
            Unpin(pinned);
            foreach (var workspace in workspaces.Values)
            {
                ContentStore.DeleteTree(workspace);
            }
            ContentStore.DeleteTree(directory);
        }
    }

    /// <summary>
    /// Commits what a load or a new image made, under the commit lock: the snapshots unpacked in
    /// <paramref name="workspaces"/> (diff ID → workspace, emptied as they move in), the verified layer blobs
    /// (digest → a file beside the store, moved in), then each image's config, manifest, record and names.
    /// </summary>
    private async Task CommitAsync(Dictionary<string, string> workspaces, Dictionary<string, string> blobs,
        IReadOnlyList<PendingImage> images, string origin, CancellationToken ct)
    {
        await _commitLock.WaitAsync(ct);
        try
        {
            foreach (var (diffId, workspace) in workspaces)
            {
                var (bytes, inodes) = DiskUsage.Measure(workspace);
                _content.CommitSnapshot(workspace, diffId);
                _store.RecordSnapshot(diffId, bytes, inodes);
            }
            workspaces.Clear();
            foreach (var (digest, file) in blobs)
            {
                _content.CommitBlobFile(file, digest);
            }
            foreach (var (image, config, manifest, names) in images)
            {
                _content.WriteBlob(image.Id, config);
                _content.WriteBlob(image.ManifestDigest, manifest);
                _store.CommitImage(image);
                foreach (var name in names)
                {
                    _store.SetName(name, image.Id, LocalName);
                }
                _logger.LogInformation("Stored {ImageId} {Origin} as {Names}", image.Id, origin, string.Join(", ", names));
            }
        }
        finally
        {
            _commitLock.Release();
        }
    }

    /// <summary>An image made on this node, ready to be committed with its config, manifest and names.</summary>
    private sealed record PendingImage(ImageRecord Image, byte[] Config, byte[] Manifest, IReadOnlyList<string> Names);

    /// <summary>A name from an archive as stored: "repo:tag" normalised; a digest is refused (the image's is not the registry's).</summary>
    private static string NameOf(string text)
    {
        var reference = ImageReference.Parse(text);
        return reference.Digest is null
            ? $"{reference.Repository}:{reference.Tag}"
            : throw BerthException.InvalidArgument($"the archive names an image '{text}', with a digest: only repo:tag names can be loaded");
    }

    /// <summary>
    /// Checks one layer member against its digests, unpacking it into a workspace unless the node (or this archive) has
    /// its snapshot already. Either way the member is decompressed and hashed to the diff ID its config states: a layer the
    /// store holds proves nothing about the archive's copy, which is kept as the image's blob.
    /// </summary>
    private async Task<LayerRecord> LoadLayerAsync(ImageArchive contents, ArchivedLayer layer, string diffId,
        Dictionary<string, string> workspaces, CancellationToken ct)
    {
        var mediaType = layer.Digest is null ? await SniffMediaTypeAsync(contents.PathOf(layer.Member), ct) : layer.MediaType;
        await using var file = File.OpenRead(contents.PathOf(layer.Member));
        using var stream = new HashingReadStream(file);
        UnpackResult result;
        try
        {
            if (_store.HasSnapshot(diffId) || workspaces.ContainsKey(diffId))
            {
                result = await LayerUnpacker.DiffIdAsync(stream, mediaType, ct);
            }
            else
            {
                var workspace = _content.NewSnapshotWorkspace();
                workspaces[diffId] = workspace;
                result = await LayerUnpacker.UnpackAsync(stream, mediaType, workspace, ct);
            }
        }
        catch (Exception error) when (error is UnsafeLayerException or InvalidLayerException)
        {
            throw BerthException.InvalidArgument($"the archive's layer '{layer.Member}' is refused: {error.Message}");
        }
        await stream.CopyToAsync(Stream.Null, ct);
        if (result.DiffId != diffId)
        {
            throw new BerthException(ErrorKind.DataLoss, $"the archive's layer '{layer.Member}' unpacks to {result.DiffId}, but its image's config says {diffId}: it was changed or damaged");
        }
        var digest = stream.CurrentDigest();
        if ((layer.Digest is { } stated && stated != digest) || (layer.Size is { } size && size != stream.BytesRead))
        {
            throw new BerthException(ErrorKind.DataLoss, $"the archive's layer '{layer.Member}' should be {layer.Digest} but is {digest}: it was changed or damaged");
        }
        return new LayerRecord(digest, mediaType, stream.BytesRead, diffId);
    }

    /// <summary>A layer file's media type, from its first bytes (docker save writes plain tars; others gzip them).</summary>
    private static async Task<string> SniffMediaTypeAsync(string file, CancellationToken ct)
    {
        await using var stream = File.OpenRead(file);
        var head = new byte[4];
        var read = await stream.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, ct);
        return head.AsSpan(0, read) switch
        {
            [0x1f, 0x8b, ..] => MediaTypes.OciLayerGzip,
            [0x28, 0xb5, 0x2f, 0xfd] => MediaTypes.OciLayerZstd,
            _ => MediaTypes.OciLayerTar,
        };
    }

    /// <summary>The OCI manifest a docker-archive image would have (it has none): what a push of the image would send.</summary>
    private static byte[] DockerArchiveManifest(ArchivedImage image, IReadOnlyList<LayerRecord> layers) =>
        OciManifest(image.Id, image.Config.LongLength, layers);

    /// <summary>An OCI image manifest for a config blob and its layers (lowest first).</summary>
    private static byte[] OciManifest(string configDigest, long configSize, IReadOnlyList<LayerRecord> layers)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("schemaVersion", 2);
            writer.WriteString("mediaType", MediaTypes.OciManifest);
            writer.WritePropertyName("config");
            WriteDescriptor(writer, MediaTypes.OciConfig, configDigest, configSize);
            writer.WriteStartArray("layers");
            foreach (var layer in layers)
            {
                WriteDescriptor(writer, layer.MediaType, layer.Digest, layer.Size);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void WriteDescriptor(Utf8JsonWriter writer, string mediaType, string digest, long size)
    {
        writer.WriteStartObject();
        writer.WriteString("mediaType", mediaType);
        writer.WriteString("digest", digest);
        writer.WriteNumber("size", size);
        writer.WriteEndObject();
    }
}
