using System.Formats.Tar;
using System.Text.Json;
using Berth.Core;
using Berth.Core.Errors;
using Berth.ImageService.Layers;
using Berth.ImageService.Registry;
using Berth.ImageService.Store;

namespace Berth.ImageService.Images;

/// <summary>The two archive formats of save and load.</summary>
public enum ArchiveFormat
{
    /// <summary>docker save's: manifest.json, HEX.json configs, DIFFHEX/layer.tar uncompressed layers (docker load reads it).</summary>
    DockerArchive,
    /// <summary>An OCI image layout: oci-layout, index.json, blobs/sha256/ with the blobs as pulled.</summary>
    OciLayout,
}

public sealed partial class ImageManager
{
    /// <summary>
    /// Writes <paramref name="names"/>' images into one archive (docker save, ctr export). An image named by a tag is
    /// saved under that tag; one named by ID or digest under all its tags. Shared layers are written once.
    /// </summary>
    /// <exception cref="BerthException">NotFound for a name no image has; FailedPrecondition for an image whose blobs this node lacks (the message says which and how to get it back).</exception>
    public async Task SaveAsync(IReadOnlyList<string> names, ArchiveFormat format, Stream output, CancellationToken ct)
    {
        using var activity = Telemetry.Source.StartActivity("image.save");
        var images = new List<(NamedImage Image, IReadOnlyList<string> Tags)>();
        foreach (var text in names)
        {
            var image = Find(text) ?? throw BerthException.NotFound($"no image {text} on this node");
            RequireBlobs(image, BlobsOf(image.Image), "save");
            var tag = ImageReference.TryParse(text, out var reference) && reference.Digest is null ? $"{reference.Repository}:{reference.Tag}" : null;
            images.Add((image, tag is not null && image.Names.Any(name => name.Name == tag) ? [tag] : image.RepoTags().ToList()));
        }
        var temporary = _content.NewTemporaryDirectory();
        try
        {
            await using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
            var written = new HashSet<string>(StringComparer.Ordinal);
            if (format == ArchiveFormat.DockerArchive)
            {
                await WriteDockerArchiveAsync(writer, images, written, temporary, ct);
            }
            else
            {
                await WriteOciLayoutAsync(writer, images, written, ct);
            }
        }
        finally
        {
            ContentStore.DeleteTree(temporary);
        }
    }

    private async Task WriteDockerArchiveAsync(TarWriter writer, List<(NamedImage Image, IReadOnlyList<string> Tags)> images,
        HashSet<string> written, string temporary, CancellationToken ct)
    {
        var manifest = new MemoryStream();
        await using (var json = new Utf8JsonWriter(manifest, new JsonWriterOptions { Indented = false }))
        {
            json.WriteStartArray();
            foreach (var (image, tags) in images)
            {
                var config = $"{image.Image.Id[7..]}.json";
                if (written.Add(config))
                {
                    await writer.WriteEntryAsync(_content.BlobPath(image.Image.Id), config, ct);
                }
                json.WriteStartObject();
                json.WriteString("Config", config);
                json.WriteStartArray("RepoTags");
                foreach (var tag in tags)
                {
                    json.WriteStringValue(tag);
                }
                json.WriteEndArray();
                json.WriteStartArray("Layers");
                foreach (var layer in image.Image.Layers)
                {
                    var member = $"{layer.DiffId[7..]}/layer.tar";
                    if (written.Add(member))
                    {
                        // docker load wants the layer as a plain tar: decompressed beside, then added with its length known.
                        var plain = Path.Combine(temporary, layer.DiffId[7..]);
                        await using (var blob = File.OpenRead(_content.BlobPath(layer.Digest)))
                        await using (var tar = await LayerCompression.OpenAsync(blob, layer.MediaType, ct))
                        await using (var file = new FileStream(plain, FileMode.CreateNew, FileAccess.Write))
                        {
                            await tar.CopyToAsync(file, ct);
                        }
                        await writer.WriteEntryAsync(plain, member, ct);
                        File.Delete(plain);
                    }
                    json.WriteStringValue(member);
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        await WriteMemberAsync(writer, "manifest.json", manifest.ToArray(), ct);
    }

    private async Task WriteOciLayoutAsync(TarWriter writer, List<(NamedImage Image, IReadOnlyList<string> Tags)> images,
        HashSet<string> written, CancellationToken ct)
    {
        await WriteMemberAsync(writer, "oci-layout", """{"imageLayoutVersion":"1.0.0"}"""u8.ToArray(), ct);
        var index = new MemoryStream();
        await using (var json = new Utf8JsonWriter(index))
        {
            json.WriteStartObject();
            json.WriteNumber("schemaVersion", 2);
            json.WriteString("mediaType", MediaTypes.OciIndex);
            json.WriteStartArray("manifests");
            foreach (var (image, tags) in images)
            {
                foreach (var digest in new[] { image.Image.ManifestDigest, image.Image.Id }.Concat(image.Image.Layers.Select(layer => layer.Digest)))
                {
                    var member = ImageArchive.BlobName(digest);
                    if (written.Add(member))
                    {
                        await writer.WriteEntryAsync(_content.BlobPath(digest), member, ct);
                    }
                }
                // One index entry per name (none for an untagged image's one entry), as containerd's export writes them.
                foreach (var tag in tags.DefaultIfEmpty())
                {
                    json.WriteStartObject();
                    json.WriteString("mediaType", image.Image.ManifestMediaType);
                    json.WriteString("digest", image.Image.ManifestDigest);
                    json.WriteNumber("size", new FileInfo(_content.BlobPath(image.Image.ManifestDigest)).Length);
                    if (tag is not null)
                    {
                        json.WriteStartObject("annotations");
                        json.WriteString("io.containerd.image.name", tag);
                        json.WriteString("org.opencontainers.image.ref.name", tag[(tag.LastIndexOf(':') + 1)..]);
                        json.WriteEndObject();
                    }
                    json.WriteEndObject();
                }
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        await WriteMemberAsync(writer, "index.json", index.ToArray(), ct);
    }

    private static async Task WriteMemberAsync(TarWriter writer, string name, byte[] content, CancellationToken ct) =>
        await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content), Mode = (UnixFileMode)0b110_100_100 }, ct);
}
