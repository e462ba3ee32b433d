using System.Collections.Concurrent;

namespace Berth.ImageService.Images;

/// <summary>
/// Where each layer download in flight stands, by blob digest, for whoever watches a pull (the admin API's
/// progress stream). Downloads are shared between concurrent pulls of one layer, so progress is published
/// here rather than reported to one caller: every watcher of any pull needing the layer reads the same entry.
/// An entry lives from the moment its download is queued until its snapshot is committed or it fails.
/// </summary>
public sealed class PullProgressBoard
{
    private readonly ConcurrentDictionary<string, LayerTransfer> _transfers = new(StringComparer.Ordinal);

    /// <summary>The transfer of the blob <paramref name="digest"/> ("sha256:..."), or null when none is in flight.</summary>
    public LayerTransfer? Find(string digest) => _transfers.GetValueOrDefault(digest);

    internal LayerTransfer Begin(string digest, long total)
    {
        var transfer = new LayerTransfer(total);
        _transfers[digest] = transfer;
        return transfer;
    }

    internal void End(string digest, LayerTransfer transfer) =>
        _transfers.TryRemove(new KeyValuePair<string, LayerTransfer>(digest, transfer));
}

/// <summary>Where a layer download stands; updated by the one download, read by any number of watchers.</summary>
public sealed class LayerTransfer(long total)
{
    private long _bytes;
    private int _stage = (int)TransferStage.Waiting;

    /// <summary>The blob's size in bytes, from the manifest.</summary>
    public long Total { get; } = total;

    /// <summary>Bytes of the blob received so far.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    public TransferStage Stage => (TransferStage)Volatile.Read(ref _stage);

    internal void Add(int bytes) => Interlocked.Add(ref _bytes, bytes);

    internal void MoveTo(TransferStage stage) => Volatile.Write(ref _stage, (int)stage);
}

/// <summary>The stages a layer download goes through, in order.</summary>
public enum TransferStage
{
    /// <summary>Queued for a download slot (maxConcurrentDownloads).</summary>
    Waiting,
    /// <summary>Bytes arriving; they are verified and unpacked as they arrive.</summary>
    Downloading,
    /// <summary>Every byte arrived: the end of the unpack, the digest checks, the snapshot's commit.</summary>
    Extracting,
}

/// <summary>
/// A read-only pass-through that adds every byte read to a <see cref="LayerTransfer"/> and writes it to
/// <paramref name="copy"/>: the layer blob kept in the content store, for save and push.
/// </summary>
internal sealed class CountingReadStream(Stream inner, LayerTransfer transfer, Stream copy) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => inner.Length;

    public override long Position
    {
        get => transfer.Bytes;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = inner.Read(buffer);
        copy.Write(buffer[..read]);
        transfer.Add(read);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        await copy.WriteAsync(buffer[..read], cancellationToken).ConfigureAwait(false);
        transfer.Add(read);
        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}
