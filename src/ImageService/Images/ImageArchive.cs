using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using Berth.Core.Errors;
using Berth.ImageService.Registry;

namespace Berth.ImageService.Images;

/// <summary>
/// An image archive unpacked into a private directory so its members can be read in any order: a
/// docker-archive (docker save: manifest.json naming each image's config and layer files) or an OCI image
/// layout (index.json and blobs/sha256/), either possibly gzip-compressed as a whole. Only regular files,
/// directories and links between members are accepted; a member whose name is absolute, climbs with "..",
/// or links outside the archive is refused before anything is read; a member of a name no archive format uses is passed
/// over without being written (and a JSON member over 8 MiB refused), so what is spooled is bounded by what an image can
/// reference. Every digest the archive states is checked
/// when its member is read (<see cref="ReadVerified"/>; layers by the loader, which reads them through a hash).
/// </summary>
internal sealed partial class ImageArchive
{
    private const int MaxLinkHops = 8;
    private const long MaxJsonBytes = 8 << 20;
    // How much is spooled between two checks of the free space left.
    private const long RoomCheckBytes = 1 << 20;
    private readonly string _directory;
    private readonly Dictionary<string, string> _links = new(StringComparer.Ordinal);
    private readonly HashSet<string> _files = new(StringComparer.Ordinal);

    private ImageArchive(string directory) => _directory = directory;

    /// <summary>Unpacks <paramref name="archive"/> into <paramref name="directory"/> (an empty directory the caller deletes).</summary>
    /// <exception cref="BerthException">InvalidArgument: not a tar (or gzip of one), or a member that is refused; the message says which.</exception>
    public static async Task<ImageArchive> ExtractAsync(Stream archive, string directory, CancellationToken ct)
    {
        var result = new ImageArchive(directory);
        var head = new byte[2];
        var read = await archive.ReadAtLeastAsync(head, 2, throwOnEndOfStream: false, ct);
        Stream source = new Layers.PrefixedReadStream(head[..read], archive);
        if (read == 2 && head[0] == 0x1f && head[1] == 0x8b)
        {
            source = new GZipStream(source, CompressionMode.Decompress);
        }
        try
        {
            await using var reader = new TarReader(source);
            while (await reader.GetNextEntryAsync(copyData: false, ct) is { } entry)
            {
                await result.AddAsync(entry, ct);
            }
        }
        catch (Exception error) when (error is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw BerthException.InvalidArgument($"the archive is not a complete tar (or gzip of one): {error.Message}");
        }
        return result;
    }

    private async Task AddAsync(TarEntry entry, CancellationToken ct)
    {
        var name = Member(entry.Name);
        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                return;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                if (name.Length == 0)
                {
                    throw Refused(entry.Name, "is not a file name");
                }
                if (!ArchiveMemberName().IsMatch(name))
                {
                    // No archive format names such a member: skipped unread (the reader passes over its data), so a crafted
                    // archive cannot fill the disk with members nothing references.
                    SkippedMembers++;
                    return;
                }
                if (SmallMemberName().IsMatch(name) && entry.Length > MaxJsonBytes)
                {
                    throw Refused(entry.Name, $"is {entry.Length} bytes: no manifest or config is over {MaxJsonBytes}");
                }
                await SpoolAsync(entry, name, ct);
                return;
            case TarEntryType.SymbolicLink:
                // docker save (25 and later) links the legacy per-layer paths to blobs/sha256/: targets are relative to the link.
                var directory = name.Contains('/') ? name[..name.LastIndexOf('/')] + "/" : "";
                _links[name] = Member(directory + entry.LinkName, entry.Name);
                return;
            case TarEntryType.HardLink:
                _links[name] = Member(entry.LinkName, entry.Name);
                return;
            case TarEntryType.GlobalExtendedAttributes:
                return;
            default:
                throw Refused(entry.Name, $"is a {entry.EntryType}, which no image archive holds");
        }
    }

    /// <summary>Members of no known shape that were passed over unread.</summary>
    public int SkippedMembers { get; private set; }

    /// <summary>
    /// Writes a member into the private directory. A blob of an OCI layout is hashed as it is written and refused at once
    /// when it is not the digest its name states, so nothing but verified content accumulates whatever the manifest says.
    /// </summary>
    private async Task SpoolAsync(TarEntry entry, string name, CancellationToken ct)
    {
        var path = Path.Combine(_directory, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var stated = name.StartsWith("blobs/sha256/", StringComparison.Ordinal) ? "sha256:" + name["blobs/sha256/".Length..] : null;
        RequireRoom();
        await using (var file = new FileStream(path, FileMode.Create, FileAccess.Write))
        using (var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256))
        {
            if (entry.DataStream is { } data)
            {
                var buffer = new byte[128 * 1024];
                long sinceCheck = 0;
                int read;
                while ((read = await data.ReadAsync(buffer, ct)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), ct);
                    if ((sinceCheck += read) >= RoomCheckBytes)
                    {
                        RequireRoom();
                        sinceCheck = 0;
                    }
                }
            }
            var actual = "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
            if (stated is not null && actual != stated)
            {
                throw new BerthException(ErrorKind.DataLoss, $"the archive's member '{entry.Name}' hashes to {actual}: it was changed or damaged; refused, nothing was loaded");
            }
        }
        _files.Add(name);
    }

    /// <summary>
    /// Refuses to spool on when the next <see cref="RoomCheckBytes"/> would leave the spool's filesystem under a tenth
    /// free (kubelet's default nodefs.available eviction threshold): well-formed members nothing references could still
    /// add up to any size, and the manifest that says what is referenced usually comes last.
    /// </summary>
    /// <exception cref="BerthException">ResourceExhausted.</exception>
    private void RequireRoom()
    {
        var filesystem = new DriveInfo(_directory);
        var floor = filesystem.TotalSize / 10;
        if (filesystem.AvailableFreeSpace - RoomCheckBytes < floor)
        {
            throw BerthException.ResourceExhausted(
                $"the archive would fill the disk: {filesystem.AvailableFreeSpace} of {filesystem.TotalSize} bytes are left free where berthd unpacks it, " +
                $"and it keeps a tenth free; refused, nothing was loaded");
        }
    }

    // What docker save (legacy and 25+), podman/skopeo docker-archive and an OCI image layout name their members.
    [System.Text.RegularExpressions.GeneratedRegex("^(manifest\\.json|index\\.json|oci-layout|repositories|[0-9a-f]{64}(\\.json|\\.tar|/layer\\.tar|/json|/VERSION)|blobs/sha256/[0-9a-f]{64})$")]
    private static partial System.Text.RegularExpressions.Regex ArchiveMemberName();

    // The members that are JSON (or a version line), never large.
    [System.Text.RegularExpressions.GeneratedRegex("^(manifest\\.json|index\\.json|oci-layout|repositories|[0-9a-f]{64}(\\.json|/json|/VERSION))$")]
    private static partial System.Text.RegularExpressions.Regex SmallMemberName();

    /// <summary>The normalised member name ("a/b"), refusing one that is absolute or leaves the archive.</summary>
    private static string Member(string name, string? linkOf = null)
    {
        if (name.StartsWith('/') || name.Contains('\0'))
        {
            throw Refused(linkOf ?? name, linkOf is null ? "is an absolute path" : $"links to the absolute path {name}");
        }
        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }
            if (part == "..")
            {
                if (parts.Count == 0)
                {
                    throw Refused(linkOf ?? name, linkOf is null ? "escapes the archive with .." : $"links outside the archive ({name})");
                }
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(part);
        }
        return string.Join('/', parts);
    }

    private static BerthException Refused(string name, string why) =>
        BerthException.InvalidArgument($"the archive's member '{name}' {why}: refused, nothing was loaded");

    /// <summary>Whether the archive has the member, following links.</summary>
    public bool Has(string name) => Resolve(name) is not null;

    private string? Resolve(string name)
    {
        var current = Member(name);
        for (var hop = 0; hop <= MaxLinkHops; hop++)
        {
            if (_files.Contains(current))
            {
                return Path.Combine(_directory, current);
            }
            if (!_links.TryGetValue(current, out var target))
            {
                return null;
            }
            current = target;
        }
        return null;
    }

    private string Require(string name) =>
        Resolve(name) ?? throw BerthException.InvalidArgument($"the archive names '{name}' but has no such member: it is incomplete");

    /// <summary>Where a member's bytes are on disk, following links.</summary>
    public string PathOf(string name) => Require(name);

    /// <summary>A small JSON member's bytes.</summary>
    public byte[] ReadJson(string name)
    {
        var path = Require(name);
        if (new FileInfo(path).Length > MaxJsonBytes)
        {
            throw BerthException.InvalidArgument($"the archive's '{name}' is over {MaxJsonBytes} bytes: no manifest or config is that large");
        }
        return File.ReadAllBytes(path);
    }

    /// <summary>A small member whose digest (and size, when known) the archive states: refused when it does not match.</summary>
    public byte[] ReadVerified(string name, string digest, long? size)
    {
        var bytes = ReadJson(name);
        var actual = Sha256Digest.Of(bytes);
        if (actual != digest || (size is { } expected && expected != bytes.Length))
        {
            throw new BerthException(ErrorKind.DataLoss, $"the archive's '{name}' should be {digest} ({size?.ToString() ?? "?"} bytes) but is {actual} ({bytes.Length} bytes): it was changed or damaged");
        }
        return bytes;
    }

    /// <summary>
    /// The images the archive holds, each with its config and manifest read and verified: manifest.json's entries
    /// when there is one (docker save writes it, docker 25 and later beside an OCI layout), else index.json's.
    /// </summary>
    public IReadOnlyList<ArchivedImage> Images()
    {
        if (Has("manifest.json"))
        {
            return DockerImages();
        }
        if (Has("index.json"))
        {
            return OciImages();
        }
        throw BerthException.InvalidArgument("the archive has neither manifest.json (docker-archive) nor index.json (OCI image layout): it holds no image");
    }

    private List<ArchivedImage> DockerImages()
    {
        var images = new List<ArchivedImage>();
        try
        {
            using var manifest = JsonDocument.Parse(ReadJson("manifest.json"));
            foreach (var entry in manifest.RootElement.EnumerateArray())
            {
                var configName = entry.GetProperty("Config").GetString() ?? throw new FormatException("Config is null");
                var config = ReadJson(configName);
                var id = Sha256Digest.Of(config);
                if (DigestInName(configName) is { } stated && stated != id)
                {
                    throw new BerthException(ErrorKind.DataLoss, $"the archive's config '{configName}' hashes to {id}: it was changed or damaged");
                }
                var names = entry.TryGetProperty("RepoTags", out var tags) && tags.ValueKind == JsonValueKind.Array
                    ? tags.EnumerateArray().Select(tag => tag.GetString()!).ToList()
                    : [];
                var layers = entry.GetProperty("Layers").EnumerateArray()
                    .Select(layer => layer.GetString() ?? throw new FormatException("a layer is null"))
                    .Select(layer => new ArchivedLayer(layer, DigestInName(layer) is { } digest && layer.StartsWith("blobs/", StringComparison.Ordinal) ? digest : null,
                        null, MediaTypes.OciLayerTar))
                    .ToList();
                images.Add(new ArchivedImage(names, id, config, layers, Manifest: null, MediaTypes.OciManifest));
            }
        }
        catch (Exception error) when (error is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw BerthException.InvalidArgument($"the archive's manifest.json is not docker save's list of images: {error.Message}");
        }
        return images;
    }

    private List<ArchivedImage> OciImages()
    {
        var images = new List<ArchivedImage>();
        var index = ManifestParser.Parse(ReadJson("index.json"), MediaTypes.OciIndex, "the archive's index.json") as ImageIndexDocument
            ?? throw BerthException.InvalidArgument("the archive's index.json is not an OCI image index");
        using var annotations = JsonDocument.Parse(ReadJson("index.json"));
        var entries = annotations.RootElement.GetProperty("manifests").EnumerateArray().ToList();
        for (var position = 0; position < index.Manifests.Count; position++)
        {
            var descriptor = index.Manifests[position].Descriptor;
            var bytes = ReadVerified(BlobName(descriptor.Digest), descriptor.Digest, descriptor.Size);
            var document = ManifestParser.Parse(bytes, descriptor.MediaType, $"the archive's manifest {descriptor.Digest}");
            if (document is ImageIndexDocument nested)
            {
                descriptor = nested.SelectFor(Platform.Current, $"the archive's image {descriptor.Digest}").Descriptor;
                bytes = ReadVerified(BlobName(descriptor.Digest), descriptor.Digest, descriptor.Size);
                document = ManifestParser.Parse(bytes, descriptor.MediaType, $"the archive's manifest {descriptor.Digest}");
            }
            var manifest = (ImageManifestDocument)document;
            var config = ReadVerified(BlobName(manifest.Config.Digest), manifest.Config.Digest, manifest.Config.Size);
            var names = new List<string>();
            if (entries[position].TryGetProperty("annotations", out var annotation))
            {
                // containerd's full name first; the OCI ref name is often a bare tag, which names no repository.
                if (annotation.TryGetProperty("io.containerd.image.name", out var full) && full.GetString() is { Length: > 0 } fullName)
                {
                    names.Add(fullName);
                }
                else if (annotation.TryGetProperty("org.opencontainers.image.ref.name", out var reference) && reference.GetString() is { } refName && refName.Contains('/'))
                {
                    names.Add(refName);
                }
            }
            var layers = manifest.Layers.Select(layer => new ArchivedLayer(BlobName(layer.Digest), layer.Digest, layer.Size, layer.MediaType)).ToList();
            images.Add(new ArchivedImage(names, manifest.Config.Digest, config, layers, bytes, manifest.MediaType));
        }
        return images;
    }

    /// <summary>The blob path of a digest in an OCI image layout.</summary>
    public static string BlobName(string digest) =>
        digest.StartsWith("sha256:", StringComparison.Ordinal) && digest.Length == 71
            ? "blobs/sha256/" + digest[7..]
            : throw BerthException.InvalidArgument($"'{digest}' is not a sha256 digest");

    /// <summary>The hex digest a member's name states (blobs/sha256/HEX, HEX.json, HEX/layer.tar), if any.</summary>
    public static string? DigestInName(string name)
    {
        foreach (var part in Member(name).Split('/').Reverse())
        {
            var stem = part.EndsWith(".json", StringComparison.Ordinal) ? part[..^5] : part;
            if (stem.Length == 64 && stem.All(char.IsAsciiHexDigitLower))
            {
                return "sha256:" + stem;
            }
        }
        return null;
    }
}

/// <summary>An image of an archive: its names as the archive gives them, its verified config, its layers, and its manifest (null for a docker-archive, which has none).</summary>
internal sealed record ArchivedImage(IReadOnlyList<string> Names, string Id, byte[] Config, IReadOnlyList<ArchivedLayer> Layers, byte[]? Manifest, string ManifestMediaType);

/// <summary>A layer member, with the digest and size the archive states for it (null when it states none).</summary>
internal sealed record ArchivedLayer(string Member, string? Digest, long? Size, string MediaType);
