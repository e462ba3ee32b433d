using Berth.Core.Errors;
using Berth.Core;
using System.Collections.Concurrent;
using System.Diagnostics;
using Berth.ImageService.Layers;
using Berth.ImageService.Registry;
using Berth.ImageService.Store;
using Microsoft.Extensions.Logging;

namespace Berth.ImageService.Images;

/// <summary>
/// Pulls, finds and removes images. A pull resolves the reference, then fetches the config and every
/// missing layer in parallel, each streamed straight from the registry through digest verification
/// into its own snapshot directory (overlayfs needs no layer to be unpacked on top of another, so no
/// layer waits for its parent). Only when every snapshot is in place is the image committed to the
/// database: until then nothing of it is visible. Concurrent pulls of one image, or of images sharing a
/// layer, share one download through the in-flight maps.
/// </summary>
public sealed partial class ImageManager
{
    private const long MaxConfigBytes = 8 << 20;
    private readonly ImageStore _store;
    private readonly ContentStore _content;
    private readonly RegistryClient _registry;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _downloadSlots;
    private readonly ConcurrentDictionary<string, Lazy<Task<ImageRecord>>> _imagesInFlight = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<bool>>> _layersInFlight = new(StringComparer.Ordinal);
    // Blobs fetched for a snapshot the node already has (keyed by blob digest, where _layersInFlight is by diff ID).
    private readonly ConcurrentDictionary<string, Lazy<Task<bool>>> _blobsInFlight = new(StringComparer.Ordinal);
    // Snapshots that a pull in progress needs before its image is committed: garbage collection skips them.
    private readonly ConcurrentDictionary<string, int> _pinnedByPulls = new(StringComparer.Ordinal);
    // Blob writes with their image commit, and garbage collection, take turns.
    private readonly SemaphoreSlim _commitLock = new(1, 1);
    private readonly CancellationToken _daemonStopping;
    private CountedUsage? _usage;

    public ImageManager(ImageStore store, ContentStore content, RegistryClient registry, int maxConcurrentDownloads,
        ILogger<ImageManager> logger, CancellationToken daemonStopping)
    {
        _store = store;
        _content = content;
        _registry = registry;
        _logger = logger;
        _downloadSlots = new SemaphoreSlim(maxConcurrentDownloads, maxConcurrentDownloads);
        _daemonStopping = daemonStopping;
    }

    public ContentStore Content => _content;

    /// <summary>The registry client pulls and pushes use, and its logins.</summary>
    public RegistryClient Registry => _registry;

    /// <summary>Removes what a killed daemon left half done and collects unreferenced content.</summary>
    public async Task RecoverAsync()
    {
        _content.DiscardUnfinished();
        var recorded = _store.Snapshots().Select(snapshot => snapshot.DiffId).ToHashSet(StringComparer.Ordinal);
        foreach (var diffId in _content.SnapshotDiffIds().Where(diffId => !recorded.Contains(diffId)))
        {
            _logger.LogInformation("Removing snapshot {DiffId} left by an unfinished pull", diffId);
            _content.DeleteSnapshot(diffId);
        }
        foreach (var diffId in recorded.Where(diffId => !Directory.Exists(_content.SnapshotPath(diffId))))
        {
            _logger.LogWarning("Snapshot {DiffId} is recorded but missing on disk; forgetting it", diffId);
            _store.ForgetSnapshot(diffId);
        }
        await CollectGarbageAsync();
    }

    /// <summary>Where every layer download in flight stands, for pull progress.</summary>
    public PullProgressBoard Progress { get; } = new();

    /// <summary>Pulls <paramref name="reference"/> (resolve, then <see cref="PullResolvedAsync"/>).</summary>
    public async Task<NamedImage> PullAsync(ImageReference reference, RegistryCredentials? credentials, CancellationToken ct) =>
        (await PullResolvedAsync(await ResolveAsync(reference, credentials, ct), ct)).Image;

    /// <summary>Resolves a reference to the manifest of this node's platform: the first step of a pull.</summary>
    /// <exception cref="RegistryException">The registry refused, or does not have the image.</exception>
    public async Task<ResolvedImage> ResolveAsync(ImageReference reference, RegistryCredentials? credentials, CancellationToken ct)
    {
        using var activity = Telemetry.Source.StartActivity("image.pull.resolve");
        activity?.SetTag("image.reference", reference.ToString());
        return await _registry.ResolveAsync(reference, credentials, ct);
    }

    /// <summary>
    /// Fetches what a resolved image lacks, commits it, and names it after its reference: "repo:tag", or
    /// "repo@digest" when pulled by digest alone. Nothing of the image is visible until it is all in place.
    /// </summary>
    public async Task<PulledImage> PullResolvedAsync(ResolvedImage resolved, CancellationToken ct)
    {
        var reference = resolved.Reference;
        using var activity = Telemetry.Source.StartActivity("image.pull");
        activity?.SetTag("image.reference", reference.ToString());
        var started = Stopwatch.GetTimestamp();
        var image = await Shared(_imagesInFlight, resolved.ManifestDigest, () => FetchAsync(resolved)).WaitAsync(ct);

        var name = reference.Tag is not null ? $"{reference.Repository}:{reference.Tag}" : $"{reference.Repository}@{resolved.RepoDigest}";
        _store.SetName(name, image.Id, resolved.RepoDigest);
        Telemetry.PullDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
        _logger.LogInformation("Pulled {Reference} as {ImageId}", reference, image.Id);
        var named = _store.FindById(image.Id) ?? throw BerthException.Unavailable($"image {image.Id} was removed while it was being pulled; pull it again");
        return new PulledImage(named, name, resolved.RepoDigest);
    }

    /// <summary>Whether this node has the snapshot of the layer blob <paramref name="digest"/> already (through an image that has it).</summary>
    public bool HasLayer(string digest) => _store.HasSnapshotOfBlob(digest) && _content.HasBlob(digest);

    /// <summary>Whether the content store holds every blob of <paramref name="image"/>: config, manifest and layers.</summary>
    private bool IsWhole(ImageRecord image) => BlobsOf(image).All(_content.HasBlob);

    private static IEnumerable<string> BlobsOf(ImageRecord image) =>
        new[] { image.Id, image.ManifestDigest }.Concat(image.Layers.Select(layer => layer.Digest));

    /// <summary>
    /// Refuses to <paramref name="action"/> an image when the content store lacks one of <paramref name="digests"/> (its
    /// manifest, config or layer blobs), naming what is missing and how to get it back. Every way in stores them now; an
    /// image kept by a berthd that stored only snapshots, or content removed by hand, can still lack one.
    /// </summary>
    /// <exception cref="BerthException">FailedPrecondition naming the first missing blob.</exception>
    private void RequireBlobs(NamedImage image, IEnumerable<string> digests, string action)
    {
        var missing = digests.FirstOrDefault(digest => !_content.HasBlob(digest));
        if (missing is null)
        {
            return;
        }
        var name = image.Names.Select(item => item.Name).FirstOrDefault() ?? image.Image.Id;
        var part = missing == image.Image.ManifestDigest ? "manifest"
            : missing == image.Image.Id ? "config"
            : image.Image.Layers.FirstOrDefault(layer => layer.Digest == missing) is { } layer ? $"layer blob (diff ID {layer.DiffId})"
            : "blob";
        throw BerthException.FailedPrecondition(
            $"cannot {action} {name}: this node has its files but not its {part} {missing} as stored in a registry or archive; " +
            $"pull {name} again (berthctl pull fetches the missing blob) or load it again from an archive, then {action} it");
    }

    /// <summary>
    /// Fetches the config and every missing layer and records the image. Shared by every caller pulling
    /// this manifest, so it runs to completion unless the daemon stops, even if its first caller gives up.
    /// </summary>
    private async Task<ImageRecord> FetchAsync(ResolvedImage resolved)
    {
        var ct = _daemonStopping;
        var configBytes = await _registry.GetBlobBytesAsync(resolved, resolved.Config, MaxConfigBytes, ct);
        var config = ImageConfig.Parse(configBytes);
        if (config.DiffIds.Count != resolved.Layers.Count)
        {
            throw new InvalidImageException(
                $"image config lists {config.DiffIds.Count} layers but the manifest has {resolved.Layers.Count}");
        }
        if (_store.FindById(resolved.Config.Digest) is { } existing && IsWhole(existing.Image))
        {
            // The image is here with every blob it records (perhaps loaded from an archive, under a manifest of its own,
            // which the store keeps): the pull only names it. One that lacks a blob goes on, and the fetch fills the gap.
            return existing.Image;
        }
        var layers = resolved.Layers.Select((layer, index) => new LayerRecord(layer.Digest, layer.MediaType, layer.Size, config.DiffIds[index])).ToList();
        Pin(layers);
        try
        {
            await Task.WhenAll(layers.Select(layer => EnsureLayerAsync(resolved, layer, ct)));
            var image = new ImageRecord(
                Id: resolved.Config.Digest,
                ManifestDigest: resolved.ManifestDigest,
                ManifestMediaType: resolved.ManifestMediaType,
                Layers: layers,
                User: config.User,
                Size: resolved.ManifestBytes.LongLength + resolved.Config.Size + resolved.Layers.Sum(layer => layer.Size),
                Source: resolved.Source.ToString(),
                PulledAt: DateTimeOffset.UtcNow);
            await _commitLock.WaitAsync(ct);
            try
            {
                _content.WriteBlob(resolved.Config.Digest, configBytes);
                _content.WriteBlob(resolved.ManifestDigest, resolved.ManifestBytes);
                _store.CommitImage(image);
            }
            finally
            {
                _commitLock.Release();
            }
            return image;
        }
        finally
        {
            Unpin(layers);
        }
    }

    /// <summary>Keeps the layers' snapshots (by diff ID) and blobs (by digest) from garbage collection until their image is committed.</summary>
    private void Pin(IEnumerable<LayerRecord> layers) => Pin(layers.SelectMany(layer => new[] { layer.DiffId, layer.Digest }));

    private void Unpin(IEnumerable<LayerRecord> layers) => Unpin(layers.SelectMany(layer => new[] { layer.DiffId, layer.Digest }));

    /// <summary>Keeps snapshots (by diff ID) and blobs (by digest) from garbage collection until <see cref="Unpin(IEnumerable{string})"/>.</summary>
    private void Pin(IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            _pinnedByPulls.AddOrUpdate(key, 1, (_, count) => count + 1);
        }
    }

    private void Unpin(IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            var remaining = _pinnedByPulls.AddOrUpdate(key, 0, (_, count) => count - 1);
            if (remaining <= 0)
            {
                _pinnedByPulls.TryRemove(new KeyValuePair<string, int>(key, remaining));
            }
        }
    }

    /// <summary>
    /// Makes sure the node has the layer's snapshot (by diff ID) and its blob as this image's manifest names it (by
    /// digest). The snapshot may be there with another blob of the same diff ID (a docker-archive's plain tar, or the same
    /// files compressed differently by another image): the blob is then fetched and verified without unpacking again,
    /// so every image can be saved and pushed as its registry serves it, whatever order its layers arrived in.
    /// </summary>
    private async Task EnsureLayerAsync(ResolvedImage resolved, LayerRecord layer, CancellationToken ct)
    {
        if (!_store.HasSnapshot(layer.DiffId))
        {
            await Shared(_layersInFlight, layer.DiffId, async () =>
            {
                await DownloadLayerAsync(resolved, layer, unpack: true, ct);
                return true;
            });
        }
        if (!_content.HasBlob(layer.Digest))
        {
            await Shared(_blobsInFlight, layer.Digest, async () =>
            {
                await DownloadLayerAsync(resolved, layer, unpack: false, ct);
                return true;
            });
        }
    }

    /// <summary>Runs <paramref name="work"/> once for all concurrent callers of one key; it forgets the key when done, failed or not.</summary>
    private static Task<T> Shared<T>(ConcurrentDictionary<string, Lazy<Task<T>>> inFlight, string key, Func<Task<T>> work)
    {
        return inFlight.GetOrAdd(key, _ => new Lazy<Task<T>>(RunAndForget)).Value;

        async Task<T> RunAndForget()
        {
            try
            {
                return await work();
            }
            finally
            {
                inFlight.TryRemove(key, out _);
            }
        }
    }

    /// <summary>
    /// Downloads a layer blob through digest verification into the content store and, when <paramref name="unpack"/> says
    /// so, into a new snapshot; otherwise (the snapshot is there) only checks that it decompresses to the layer's diff ID.
    /// </summary>
    private async Task DownloadLayerAsync(ResolvedImage resolved, LayerRecord layer, bool unpack, CancellationToken ct)
    {
        var transfer = Progress.Begin(layer.Digest, layer.Size);
        try
        {
            await _downloadSlots.WaitAsync(ct);
        }
        catch
        {
            Progress.End(layer.Digest, transfer);
            throw;
        }
        transfer.MoveTo(TransferStage.Downloading);
        var workspace = unpack ? _content.NewSnapshotWorkspace() : null;
        var blobFile = _content.NewTemporaryFile();
        try
        {
            using var activity = Telemetry.Source.StartActivity("image.pull.layer");
            activity?.SetTag("layer.digest", layer.Digest);
            activity?.SetTag("layer.size", layer.Size);
            var descriptor = new Registry.Descriptor(layer.MediaType, layer.Digest, layer.Size);
            await using (var copy = new FileStream(blobFile, FileMode.CreateNew, FileAccess.Write))
            await using (var blob = new CountingReadStream(await _registry.OpenBlobAsync(resolved, descriptor, ct), transfer, copy))
            {
                UnpackResult result;
                try
                {
                    result = workspace is not null
                        ? await LayerUnpacker.UnpackAsync(blob, layer.MediaType, workspace, ct)
                        : await LayerUnpacker.DiffIdAsync(blob, layer.MediaType, ct);
                }
                catch (UnsafeLayerException error)
                {
                    throw new UnsafeLayerException($"layer {layer.Digest} of {resolved.Reference} is refused: {error.Message}", error);
                }
                catch (InvalidLayerException error)
                {
                    throw new InvalidLayerException($"layer {layer.Digest} of {resolved.Reference} is not a valid layer: {error.Message}", error);
                }
                // Reading to the end makes the verifying stream check the blob's size and digest.
                await blob.CopyToAsync(Stream.Null, ct);
                transfer.MoveTo(TransferStage.Extracting);
                if (result.DiffId != layer.DiffId)
                {
                    throw new InvalidImageException($"layer {layer.Digest} unpacks to {result.DiffId}, but the image config says {layer.DiffId}");
                }
            }
            Telemetry.BytesPulled.Add(layer.Size);
            // Verified by the registry stream as it was read: kept so the image can be saved and pushed as it came.
            _content.CommitBlobFile(blobFile, layer.Digest);
            if (workspace is not null)
            {
                var (bytes, inodes) = DiskUsage.Measure(workspace);
                _content.CommitSnapshot(workspace, layer.DiffId);
                _store.RecordSnapshot(layer.DiffId, bytes, inodes);
            }
        }
        catch
        {
            if (workspace is not null)
            {
                ContentStore.DeleteTree(workspace);
            }
            File.Delete(blobFile);
            throw;
        }
        finally
        {
            _downloadSlots.Release();
            Progress.End(layer.Digest, transfer);
        }
    }

    /// <summary>Finds an image by reference, ID, or unique ID prefix, as crictl and kubelet name them.</summary>
    public NamedImage? Find(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ImageReferenceException("an image must be named");
        }
        var hex = text.StartsWith("sha256:", StringComparison.Ordinal) ? text["sha256:".Length..] : text;
        var looksLikeId = hex.Length is > 0 and <= 64 && hex.AsSpan().IndexOfAnyExcept(HexDigits) < 0;
        if (looksLikeId && hex.Length == 64)
        {
            return _store.FindById("sha256:" + hex);
        }
        if (ImageReference.TryParse(text, out var reference))
        {
            var byName = FindByReference(reference);
            if (byName is not null)
            {
                return byName;
            }
        }
        else if (!looksLikeId)
        {
            ImageReference.Parse(text); // throws with the reason the reference is malformed
        }
        if (looksLikeId)
        {
            var matches = _store.FindByIdPrefix("sha256:" + hex);
            return matches.Count == 1 ? matches[0] : null;
        }
        return null;
    }

    private NamedImage? FindByReference(ImageReference reference)
    {
        if (reference.Tag is not null)
        {
            var byTag = _store.FindByName($"{reference.Repository}:{reference.Tag}");
            if (byTag is not null && (reference.Digest is null || byTag.Names.Any(name => name.RepoDigest == reference.Digest)))
            {
                return byTag;
            }
        }
        if (reference.Digest is not null)
        {
            var repository = reference.Repository;
            return _store.List().FirstOrDefault(image => image.Names.Any(name =>
                name.RepoDigest == reference.Digest && RepositoryOf(name.Name) == repository));
        }
        return null;
    }

    public IReadOnlyList<NamedImage> List() => _store.List();

    /// <summary>
    /// Removing a tag removes that tag, and the image with its last tag; removing by ID or digest removes
    /// the image with all its names (what kubelet's image garbage collection asks for).
    /// </summary>
    /// <returns>What went, or null when nothing matched <paramref name="text"/>.</returns>
    public async Task<ImageRemoval?> RemoveAsync(string text, CancellationToken ct)
    {
        var image = Find(text);
        if (image is null)
        {
            return null;
        }
        ImageRemoval removal;
        await _commitLock.WaitAsync(ct);
        try
        {
            var tag = ImageReference.TryParse(text, out var reference) && reference.Tag is not null && reference.Digest is null
                ? $"{reference.Repository}:{reference.Tag}"
                : null;
            if (tag is not null && image.Names.Any(name => name.Name == tag))
            {
                removal = new ImageRemoval(image.Image.Id, [tag], _store.RemoveName(tag, image.Image.Id));
            }
            else
            {
                _store.Remove(image.Image.Id);
                removal = new ImageRemoval(image.Image.Id, image.Names.Select(name => name.Name).ToList(), true);
            }
        }
        finally
        {
            _commitLock.Release();
        }
        await CollectGarbageAsync();
        return removal;
    }

    /// <summary>
    /// Points the name <paramref name="target"/> at the image <paramref name="source"/> names (docker tag),
    /// taking it from any image it named before. A local name has no repository digest: nothing in any
    /// registry is known to hold the image under it until it is pushed there.
    /// </summary>
    /// <returns>The stored name ("docker.io/library/x:latest") and the image it names.</returns>
    /// <exception cref="BerthException">NotFound when no image matches <paramref name="source"/>; InvalidArgument when <paramref name="target"/> is no reference or names a digest.</exception>
    public async Task<ImageName> TagAsync(string source, string target, CancellationToken ct)
    {
        var name = TagName(target);
        await _commitLock.WaitAsync(ct);
        try
        {
            // Under the commit lock, so garbage collection cannot take the image between the lookup and the new name.
            var image = Find(source) ?? throw BerthException.NotFound($"no image {source} on this node");
            _store.SetName(name, image.Image.Id, LocalName);
            _logger.LogInformation("Tagged {ImageId} as {Name}", image.Image.Id, name);
            return new ImageName(name, image.Image.Id, LocalName);
        }
        finally
        {
            _commitLock.Release();
        }
    }

    /// <summary>A name an image is given on this node (tag, commit, import) as stored: "repo:tag", ":latest" when it names no tag.</summary>
    /// <exception cref="BerthException">InvalidArgument when <paramref name="target"/> is no reference or names a digest.</exception>
    public static string TagName(string target)
    {
        var reference = ImageReference.Parse(target);
        return reference.Digest is null
            ? $"{reference.Repository}:{reference.Tag}"
            : throw BerthException.InvalidArgument($"'{target}' names a digest; a tag is a name and a tag, such as repo:v1");
    }

    /// <summary>The repository digest of a name given on this node (by tag), which no registry is known to serve.</summary>
    public const string LocalName = "";

    /// <summary>Deletes snapshots and blobs that no image or container needs.</summary>
    public async Task CollectGarbageAsync()
    {
        await _commitLock.WaitAsync();
        try
        {
            foreach (var diffId in _store.UnreferencedSnapshots())
            {
                if (_pinnedByPulls.ContainsKey(diffId))
                {
                    continue;
                }
                _store.ForgetSnapshot(diffId);
                _content.DeleteSnapshot(diffId);
                _logger.LogInformation("Collected snapshot {DiffId}", diffId);
            }
            var referenced = _store.ReferencedBlobs();
            foreach (var digest in _content.Blobs().Where(digest => !referenced.Contains(digest) && !_pinnedByPulls.ContainsKey(digest)))
            {
                _content.DeleteBlob(digest);
            }
        }
        finally
        {
            _commitLock.Release();
        }
    }

    /// <summary>
    /// The image filesystem's use: the snapshots' sizes measured at unpack, and the blobs. Kept until a
    /// snapshot or blob is added or removed (a pull, a load, a removal, garbage collection), as containerd
    /// serves ImageFsInfo from its snapshotter's recorded usage instead of listing the content on each call.
    /// </summary>
    public FilesystemUsage Usage()
    {
        // Read before the figures: a change during the count raises it, so the next call counts again.
        long generation = _store.SnapshotGeneration + _content.BlobGeneration;
        if (Volatile.Read(ref _usage) is { } cached && cached.Generation == generation)
        {
            return cached.Usage;
        }
        var snapshots = _store.Snapshots();
        var blobs = _content.Blobs().Select(digest => new FileInfo(_content.BlobPath(digest)).Length).ToList();
        var usage = new FilesystemUsage(
            _content.SnapshotDirectory,
            snapshots.Sum(snapshot => snapshot.Bytes) + blobs.Sum(),
            snapshots.Sum(snapshot => snapshot.Inodes) + blobs.Count);
        Volatile.Write(ref _usage, new CountedUsage(generation, usage));
        return usage;
    }

    private sealed record CountedUsage(long Generation, FilesystemUsage Usage);

    public static string RepositoryOf(string name)
    {
        var at = name.IndexOf('@');
        if (at >= 0)
        {
            return name[..at];
        }
        var colon = name.LastIndexOf(':');
        return colon > name.LastIndexOf('/') ? name[..colon] : name;
    }

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdef");
}

/// <summary>What a removal took: the names, and the image itself when it went with them.</summary>
public sealed record ImageRemoval(string ImageId, IReadOnlyList<string> Untagged, bool Deleted);

/// <summary>A pulled image, the name the pull gave it, and the digest its reference resolved to in the registry.</summary>
public sealed record PulledImage(NamedImage Image, string Name, string RepoDigest);

/// <summary>What a filesystem holds for berth: its mount point (as CRI's FilesystemIdentifier names it), bytes allocated, inodes.</summary>
public sealed record FilesystemUsage(string Mountpoint, long UsedBytes, long InodesUsed);

/// <summary>An image whose manifest, config and layers do not agree with each other.</summary>
public sealed class InvalidImageException(string message) : BerthException(ErrorKind.FailedPrecondition, message);
