namespace Berth.ImageService.Layers;

/// <summary>What applying one layer produced.</summary>
/// <param name="DiffId">"sha256:&lt;hex&gt;" of the uncompressed tar stream: the image config's rootfs.diff_ids entry.</param>
/// <param name="UncompressedSize">The length of that tar stream, in bytes.</param>
public sealed record UnpackResult(string DiffId, long UncompressedSize);
