namespace Berth.ImageService.Registry;

/// <summary>A content descriptor from a manifest: what a blob is, its digest and its exact size.</summary>
public sealed record Descriptor(string MediaType, string Digest, long Size);
