using System.Formats.Tar;
using ZstdSharp;

namespace Berth.ImageService.Layers;

/// <summary>
/// Applies OCI image layers to overlayfs snapshot directories, the way containerd's archive package and overlay
/// snapshotter do, but refusing every entry that would reach outside the directory (see <see cref="LayerWriter"/>).
/// </summary>
public static class LayerUnpacker
{
    /// <summary>
    /// Decompresses <paramref name="blob"/> (gzip, zstd or none, told by its magic bytes; <paramref name="mediaType"/> is
    /// only a hint) and applies it to <paramref name="targetDirectory"/>, converting OCI whiteouts to overlayfs ones.
    /// The layer streams through: nothing is held in memory beyond one copy buffer and one tar header.
    /// </summary>
    /// <param name="blob">The layer blob as stored; read to its end, not disposed.</param>
    /// <param name="mediaType">The descriptor's media type, used in messages (and to refuse encrypted layers).</param>
    /// <param name="targetDirectory">An existing, empty directory: a fresh snapshot.</param>
    /// <param name="cancellationToken">Checked between entries and during reads.</param>
    /// <returns>The diff ID (sha256 of the uncompressed tar stream) and that stream's length.</returns>
    /// <exception cref="UnsafeLayerException">An entry would land, or link, outside <paramref name="targetDirectory"/>.</exception>
    /// <exception cref="InvalidLayerException">The blob is not a well-formed layer archive.</exception>
    /// <remarks>
    /// On any exception, cancellation included, <paramref name="targetDirectory"/> holds a partial layer and
    /// nothing outside it was touched: the caller deletes it.
    /// </remarks>
    public static async Task<UnpackResult> UnpackAsync(Stream blob, string mediaType, string targetDirectory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(mediaType);
        ArgumentException.ThrowIfNullOrEmpty(targetDirectory);
        cancellationToken.ThrowIfCancellationRequested();

        // Only an empty directory makes "already on disk" mean "written by this layer", which the hard link
        // rule and the same-layer replacement rules rely on.
        if (Directory.EnumerateFileSystemEntries(targetDirectory).Any())
        {
            throw new ArgumentException($"layer target '{targetDirectory}' is not empty", nameof(targetDirectory));
        }

        using var writer = new LayerWriter(targetDirectory);
        Stream tar = await LayerCompression.OpenAsync(blob, mediaType, cancellationToken).ConfigureAwait(false);
        await using (tar.ConfigureAwait(false))
        {
            using var hashing = new HashingReadStream(tar);
            var tap = new TarXattrTap(hashing);
            var reader = new TarReader(tap, leaveOpen: true);
            long entries = 0;
            await using (reader.ConfigureAwait(false))
            {
                while (true)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    TarEntry? entry;
                    try
                    {
                        entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (IsHeaderCorruption(e))
                    {
                        throw Corrupt(mediaType, hashing.BytesRead, e);
                    }
                    if (entry is null)
                    {
                        break;
                    }
                    entries++;

                    await writer.ApplyAsync(
                        entry,
                        tap.ResolveXattrs(entry, entries),
                        async (data, buffer, ct) =>
                        {
                            try
                            {
                                return await data.ReadAsync(buffer, ct).ConfigureAwait(false);
                            }
                            catch (Exception e) when (IsCorruption(e))
                            {
                                throw Corrupt(mediaType, hashing.BytesRead, e);
                            }
                        },
                        cancellationToken).ConfigureAwait(false);
                }
            }

            writer.ApplyDirectoryTimes();

            try
            {
                // The diff ID covers the whole uncompressed stream, padding after the end-of-archive blocks included.
                await hashing.DrainAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsCorruption(e))
            {
                throw Corrupt(mediaType, hashing.BytesRead, e);
            }

            return new UnpackResult(hashing.CurrentDigest(), hashing.BytesRead);
        }
    }

    /// <summary>
    /// The diff ID of <paramref name="blob"/> without applying it: for a layer whose snapshot the node already has (same
    /// diff ID) but whose blob, as this image or archive states it, must still be verified before it is kept or trusted.
    /// The blob is decompressed as <see cref="UnpackAsync"/> does and hashed to its end.
    /// </summary>
    /// <param name="blob">The layer blob; read to its end, not disposed.</param>
    /// <param name="mediaType">The descriptor's media type (a hint, used in messages).</param>
    /// <param name="cancellationToken">Checked during reads.</param>
    /// <returns>The diff ID (sha256 of the uncompressed stream) and that stream's length.</returns>
    /// <exception cref="InvalidLayerException">The blob does not decompress (corrupt, truncated, or an unsupported compression).</exception>
    public static async Task<UnpackResult> DiffIdAsync(Stream blob, string mediaType, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        Stream tar = await LayerCompression.OpenAsync(blob, mediaType, cancellationToken).ConfigureAwait(false);
        await using (tar.ConfigureAwait(false))
        {
            using var hashing = new HashingReadStream(tar);
            try
            {
                await hashing.DrainAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsCorruption(e))
            {
                throw Corrupt(mediaType, hashing.BytesRead, e);
            }
            return new UnpackResult(hashing.CurrentDigest(), hashing.BytesRead);
        }
    }

    /// <summary>What System.Formats.Tar, GZipStream and ZstdSharp throw for a malformed or truncated stream.</summary>
    private static bool IsCorruption(Exception e) =>
        e is InvalidDataException or FormatException or EndOfStreamException or ZstdException;

    /// <summary>
    /// Also what TarReader's header parsing throws for out-of-range fields (a time or number that does not fit):
    /// while it parses a header, only it and the decompressors run, so these can only mean a malformed header.
    /// </summary>
    private static bool IsHeaderCorruption(Exception e) =>
        IsCorruption(e) || e is InvalidOperationException or ArgumentException or OverflowException;

    private static InvalidLayerException Corrupt(string mediaType, long offset, Exception e) =>
        new($"layer ({mediaType}) is corrupt near uncompressed offset {offset}: {e.Message}", e);
}
