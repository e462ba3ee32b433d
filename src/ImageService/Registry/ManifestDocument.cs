namespace Berth.ImageService.Registry;

/// <summary>A parsed and validated manifest: an image index (or Docker manifest list) or an image manifest.</summary>
internal abstract record ManifestDocument(string MediaType);

internal sealed record ImageManifestDocument(string MediaType, Descriptor Config, IReadOnlyList<Descriptor> Layers)
    : ManifestDocument(MediaType);

internal sealed record IndexEntry(Descriptor Descriptor, Platform? Platform);

internal sealed record ImageIndexDocument(string MediaType, IReadOnlyList<IndexEntry> Manifests) : ManifestDocument(MediaType)
{
    /// <summary>
    /// The entry that fits <paramref name="node"/> best: the exact variant, else an entry without
    /// variant, else the newest older variant the node still runs; the first in index order on a tie.
    /// </summary>
    public IndexEntry SelectFor(Platform node, string imageName)
    {
        var best = Manifests
            .Where(entry => entry.Platform is not null)
            .Select(entry => (Entry: entry, Fit: node.FitOf(entry.Platform!)))
            .Where(candidate => candidate.Fit is not null)
            .OrderBy(candidate => candidate.Fit) // stable: keeps index order among equals
            .Select(candidate => candidate.Entry)
            .FirstOrDefault();
        if (best is not null)
        {
            return best;
        }
        var available = Manifests.Where(entry => entry.Platform is not null).Select(entry => entry.Platform!.ToString()).Distinct().ToList();
        throw new RegistryException(RegistryErrorKind.NoMatchingPlatform,
            $"{imageName} has no image for {node}; it has {(available.Count == 0 ? "no platform-specific images" : string.Join(", ", available))}");
    }
}
