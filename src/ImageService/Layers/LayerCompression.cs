using System.IO.Compression;
using ZstdSharp;

namespace Berth.ImageService.Layers;

/// <summary>
/// Picks the decompressor by the blob's magic bytes, as containerd's compression.DecompressStream does: the media type
/// is only a hint (registries serve uncompressed blobs labelled gzip, and the other way round), used in messages.
/// </summary>
internal static class LayerCompression
{
    private static ReadOnlySpan<byte> GzipMagic => [0x1f, 0x8b];
    private static ReadOnlySpan<byte> ZstdMagic => [0x28, 0xb5, 0x2f, 0xfd];
    private static ReadOnlySpan<byte> XzMagic => [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
    // "BZh", the block size digit, then the first bytes of the block magic (pi): "BZh" alone could start a tar member name.
    private static bool IsBzip2(ReadOnlySpan<byte> magic) =>
        magic.Length >= 6 && magic.StartsWith("BZh"u8) && magic[3] is >= (byte)'1' and <= (byte)'9' && magic[4] == 0x31 && magic[5] == 0x41;

    /// <summary>The decompressed tar stream. Does not dispose <paramref name="blob"/>.</summary>
    public static async Task<Stream> OpenAsync(Stream blob, string mediaType, CancellationToken cancellationToken)
    {
        if (mediaType.EndsWith("+encrypted", StringComparison.Ordinal))
        {
            throw new InvalidLayerException($"layer media type '{mediaType}' is encrypted, which Berth does not support");
        }

        byte[] head = new byte[XzMagic.Length];
        int n = await blob.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        ReadOnlySpan<byte> magic = head.AsSpan(0, n);
        var source = new PrefixedReadStream(head[..n], blob);

        if (magic.StartsWith(GzipMagic))
        {
            return new GZipStream(source, CompressionMode.Decompress, leaveOpen: false);
        }
        if (magic.StartsWith(ZstdMagic))
        {
            return new DecompressionStream(source, leaveOpen: false);
        }
        if (magic.StartsWith(XzMagic) || IsBzip2(magic))
        {
            throw new InvalidLayerException(
                $"layer ({mediaType}) is {(magic.StartsWith(XzMagic) ? "xz" : "bzip2")}-compressed: only gzip, zstd and uncompressed tar are supported");
        }
        return source;
    }
}
