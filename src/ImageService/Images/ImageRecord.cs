namespace Berth.ImageService.Images;

/// <summary>An image as stored: its ID is the digest of its config, as in containerd and Docker.</summary>
public sealed record ImageRecord(
    string Id,
    string ManifestDigest,
    string ManifestMediaType,
    IReadOnlyList<LayerRecord> Layers,
    string? User,
    long Size,
    string Source,
    DateTimeOffset PulledAt);

/// <summary>One layer of an image: the compressed blob it came from and the snapshot its diff ID names.</summary>
public sealed record LayerRecord(string Digest, string MediaType, long Size, string DiffId);

/// <summary>A name that keeps an image alive: "repo:tag", or "repo@sha256:..." when pulled by digest.</summary>
public sealed record ImageName(string Name, string ImageId, string RepoDigest);

/// <summary>An image with the names that point at it.</summary>
public sealed record NamedImage(ImageRecord Image, IReadOnlyList<ImageName> Names);
