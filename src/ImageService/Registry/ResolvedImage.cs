namespace Berth.ImageService.Registry;

/// <summary>An image reference resolved to the manifest of this node's platform.</summary>
/// <param name="RepoDigest">Digest of what the reference pointed at: the index when there was one, as containerd reports it.</param>
/// <param name="ManifestDigest">Digest of the platform manifest.</param>
/// <param name="Source">Base URL of the mirror or upstream registry that served the manifest; blobs are fetched there first.</param>
public sealed record ResolvedImage(
    ImageReference Reference,
    string RepoDigest,
    string ManifestDigest,
    string ManifestMediaType,
    byte[] ManifestBytes,
    Descriptor Config,
    IReadOnlyList<Descriptor> Layers,
    Uri Source)
{
    /// <summary>The credentials of the call that resolved it, for its blobs; internal so that they are never printed.</summary>
    internal RegistryCredentials? Credentials { get; init; }
}
