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
/// <param name="RepoDigest">The digest the registry serves the image under in this name's repository; empty for a name given on this node (<see cref="ImageManager.LocalName"/>).</param>
public sealed record ImageName(string Name, string ImageId, string RepoDigest)
{
    /// <summary>"repo@sha256:..." as CRI's repo_digests list it; null for a name given on this node.</summary>
    public string? DigestReference => RepoDigest == ImageManager.LocalName ? null : $"{ImageManager.RepositoryOf(Name)}@{RepoDigest}";
}

/// <summary>An image with the names that point at it.</summary>
public sealed record NamedImage(ImageRecord Image, IReadOnlyList<ImageName> Names)
{
    /// <summary>Its "repo:tag" names.</summary>
    public IEnumerable<string> RepoTags() => Names.Where(name => !name.Name.Contains('@')).Select(name => name.Name);

    /// <summary>Its "repo@sha256:..." digest references, once each; names given on this node have none.</summary>
    public IEnumerable<string> RepoDigests() => Names.Select(name => name.DigestReference).OfType<string>().Distinct(StringComparer.Ordinal);
}
