using Berth.Core;
using Berth.Core.Errors;
using Berth.ImageService.Registry;
using Microsoft.Extensions.Logging;

namespace Berth.ImageService.Images;

/// <summary>Where one pushed blob stands, in order; a blob ends in one of the last three.</summary>
public enum PushStage
{
    /// <summary>Not looked at yet (pushes run a few blobs at a time).</summary>
    Waiting,
    /// <summary>Bytes leaving for the registry.</summary>
    Uploading,
    /// <summary>The registry took every byte and checked the digest.</summary>
    Pushed,
    /// <summary>The repository had the blob: nothing sent.</summary>
    AlreadyExists,
    /// <summary>The registry linked it from another of its repositories (cross-repository mount): nothing sent.</summary>
    Mounted,
}

/// <summary>One blob of a push, updated by the push and read by any number of watchers (the admin API's progress stream).</summary>
public sealed class BlobPush(Descriptor blob)
{
    private long _bytes;
    private int _stage = (int)PushStage.Waiting;

    public Descriptor Blob { get; } = blob;

    /// <summary>Bytes the registry has acknowledged so far, of <see cref="Descriptor.Size"/>.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    public PushStage Stage => (PushStage)Volatile.Read(ref _stage);

    internal void Sent(long bytes) => Interlocked.Exchange(ref _bytes, bytes);

    internal void MoveTo(PushStage stage) => Volatile.Write(ref _stage, (int)stage);
}

/// <summary>
/// A push checked and ready: the image the reference names on this node, its manifest as stored, and its blobs (the
/// layers, lowest first, then the config) whose progress <see cref="ImageManager.PushAsync"/> updates.
/// </summary>
public sealed record PushPlan(ImageReference Reference, NamedImage Image, byte[] Manifest, string ManifestMediaType, IReadOnlyList<BlobPush> Blobs)
{
    public string ManifestDigest => Image.Image.ManifestDigest;
}

/// <summary>What a push stored: the manifest's digest and "repo@digest" to pull it by.</summary>
public sealed record PushedImage(string ManifestDigest, string RepoDigest, long ManifestSize);

public sealed partial class ImageManager
{
    /// <summary>Blobs checked, mounted or uploaded at once in one push (docker pushes 5 layers at a time, containerd 3).</summary>
    private const int ConcurrentBlobPushes = 3;

    /// <summary>
    /// Checks that <paramref name="text"/> is a reference naming an image of this node whose blobs this node keeps:
    /// the first step of a push, before anything is sent.
    /// </summary>
    /// <exception cref="BerthException">InvalidArgument for a text that is no reference; NotFound for no such image; FailedPrecondition for an image whose blobs are not kept.</exception>
    public PushPlan PlanPush(string text)
    {
        var reference = ImageReference.Parse(text);
        var image = FindByReference(reference) ?? throw BerthException.NotFound($"no image {reference} on this node: tag an image with that name first (berthctl tag)");
        var digest = image.Image.ManifestDigest;
        RequireBlobs(image, [digest], "push");
        var manifestBytes = _content.ReadBlob(digest);
        if (ManifestParser.Parse(manifestBytes, image.Image.ManifestMediaType, $"the stored manifest {digest}") is not ImageManifestDocument manifest)
        {
            throw BerthException.FailedPrecondition($"the stored manifest {digest} of image {image.Image.Id} is not an image manifest");
        }
        var blobs = manifest.Layers.Append(manifest.Config).ToList();
        RequireBlobs(image, blobs.Select(blob => blob.Digest), "push");
        return new PushPlan(reference, image, manifestBytes, manifest.MediaType, blobs.Select(blob => new BlobPush(blob)).ToList());
    }

    /// <summary>
    /// Pushes a planned image to the registry and repository its reference names, a few blobs at a time: a blob the
    /// repository has is skipped (HEAD); one this node knows another repository of the same registry to have (a name
    /// that registry served or took) is mounted from there; the rest are uploaded. The manifest goes last with its
    /// stored bytes, under the reference's tag (or digest), so its digest is unchanged. The name then records that
    /// digest as its repository digest, as after a pull. The store changes in nothing else.
    /// </summary>
    /// <exception cref="RegistryException">Unauthenticated (no or rejected credentials), Unauthorized (403), Rejected (the registry refused a blob or the manifest), Unavailable.</exception>
    public async Task<PushedImage> PushAsync(PushPlan plan, RegistryCredentials? credentials, CancellationToken ct)
    {
        using var activity = Telemetry.Source.StartActivity("image.push");
        activity?.SetTag("image.reference", plan.Reference.ToString());
        var reference = plan.Reference;
        var image = plan.Image.Image;
        var pins = image.Layers.SelectMany(layer => new[] { layer.DiffId, layer.Digest }).Append(image.Id).Append(image.ManifestDigest).ToList();
        Pin(pins);
        try
        {
            var push = _registry.OpenPush(reference, credentials);
            await Parallel.ForEachAsync(plan.Blobs, new ParallelOptions { MaxDegreeOfParallelism = ConcurrentBlobPushes, CancellationToken = ct },
                async (blob, token) => await PushBlobAsync(push, reference, blob, token));
            var digest = await push.PutManifestAsync(reference.Digest ?? reference.Tag!, plan.ManifestMediaType, plan.Manifest, ct);
            if (reference.Tag is not null)
            {
                await RecordPushedNameAsync($"{reference.Repository}:{reference.Tag}", image.Id, digest, ct);
            }
            _logger.LogInformation("Pushed {ImageId} to {Reference} as {Digest}", image.Id, reference, digest);
            return new PushedImage(digest, $"{reference.Repository}@{digest}", plan.Manifest.LongLength);
        }
        finally
        {
            Unpin(pins);
        }
    }

    private async Task PushBlobAsync(RegistryClient.RegistryPush push, ImageReference reference, BlobPush blob, CancellationToken ct)
    {
        var descriptor = blob.Blob;
        if (await push.HasBlobAsync(descriptor, ct))
        {
            blob.MoveTo(PushStage.AlreadyExists);
            return;
        }
        var session = await push.StartUploadAsync(descriptor, MountSource(reference, descriptor.Digest), ct);
        if (session is null)
        {
            blob.MoveTo(PushStage.Mounted);
            return;
        }
        blob.MoveTo(PushStage.Uploading);
        await push.UploadAsync(session, descriptor, _content.BlobPath(descriptor.Digest), blob.Sent, ct);
        Telemetry.BytesPushed.Add(descriptor.Size);
        blob.MoveTo(PushStage.Pushed);
    }

    /// <summary>
    /// A repository of <paramref name="target"/>'s registry, other than its own, that holds the blob as far as this node
    /// knows: one of the names with a repository digest (pulled from there, or pushed there) of an image with that blob.
    /// </summary>
    private string? MountSource(ImageReference target, string digest) =>
        _store.List()
            .Where(image => image.Image.Id == digest || image.Image.Layers.Any(layer => layer.Digest == digest))
            .SelectMany(image => image.Names)
            .Where(name => name.RepoDigest != LocalName)
            .Select(name => ImageReference.TryParse(name.Name, out var named) ? named : null)
            .FirstOrDefault(named => named is not null && named.Domain == target.Domain && named.Path != target.Path)
            ?.Path;

    /// <summary>The pushed name now has the registry's digest, if it still names the image (a tag may have moved meanwhile).</summary>
    private async Task RecordPushedNameAsync(string name, string imageId, string digest, CancellationToken ct)
    {
        await _commitLock.WaitAsync(ct);
        try
        {
            if (_store.FindByName(name)?.Image.Id == imageId)
            {
                _store.SetName(name, imageId, digest);
            }
        }
        finally
        {
            _commitLock.Release();
        }
    }
}
