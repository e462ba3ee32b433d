namespace Berth.Tests.E2e.Fixtures;

/// <summary>One image manifest as pushed; <paramref name="Size"/> is the manifest's own length.</summary>
public sealed record PushedManifest(
    ImagePlatform Platform,
    string MediaType,
    string Digest,
    long Size,
    string ConfigDigest,
    IReadOnlyList<string> LayerDigests,
    IReadOnlyList<string> DiffIds,
    long TotalSize);

/// <summary>
/// What <see cref="ImageBuilder"/> pushed under a tag: one manifest, or an index and a manifest per
/// platform. The shortcut properties describe the manifest this machine's platform resolves to.
/// </summary>
public sealed record PushedImage(
    string Registry,
    string Repository,
    string Tag,
    string? IndexDigest,
    IReadOnlyList<PushedManifest> Manifests)
{
    /// <summary>"127.0.0.1:PORT/name:tag", what a PullImage request names.</summary>
    public string Reference => $"{Registry}/{Repository}:{Tag}";

    /// <summary>"127.0.0.1:PORT/name@sha256:…", naming what the tag points to (the index, when there is one).</summary>
    public string DigestReference => $"{Registry}/{Repository}@{IndexDigest ?? HostManifest.Digest}";

    /// <summary>The manifest of this machine's platform: the only one, or the index's entry for it.</summary>
    public PushedManifest HostManifest =>
        Manifests.Count == 1
            ? Manifests[0]
            : Manifests.FirstOrDefault(m => m.Platform.Os == ImagePlatform.Host.Os && m.Platform.Architecture == ImagePlatform.Host.Architecture)
                ?? throw new InvalidOperationException($"The index has no manifest for {ImagePlatform.Host}.");

    public string ManifestDigest => HostManifest.Digest;

    /// <summary>The config's digest: the image ID a runtime reports.</summary>
    public string ConfigDigest => HostManifest.ConfigDigest;

    public IReadOnlyList<string> LayerDigests => HostManifest.LayerDigests;

    public IReadOnlyList<string> DiffIds => HostManifest.DiffIds;

    /// <summary>Bytes a pull of this platform's image fetches: its manifest, its config and its compressed layers (not the index).</summary>
    public long TotalSize => HostManifest.TotalSize;
}
