using System.Security.Cryptography;

namespace Berth.ImageService.Layers;

/// <summary>
/// A read-only pass-through that feeds every byte read into SHA-256 and counts them, so the diff ID is computed
/// over exactly the bytes the tar reader consumed (plus whatever <see cref="DrainAsync"/> reads after its end).
/// </summary>
internal sealed class HashingReadStream : Stream
{
    private readonly Stream _inner;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _length;

    public HashingReadStream(Stream inner) => _inner = inner;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException();
    }

    /// <summary>Bytes read so far.</summary>
    public long BytesRead => _length;

    /// <summary>"sha256:&lt;hex&gt;" of everything read so far; the stream can go on afterwards.</summary>
    public string CurrentDigest() => "sha256:" + Convert.ToHexStringLower(_hash.GetCurrentHash());

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = _inner.Read(buffer);
        Observe(buffer[..n]);
        return n;
    }

    public override int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return Read(one) == 0 ? -1 : one[0];
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Observe(buffer.Span[..n]);
        return n;
    }

    /// <summary>Reads (and hashes) the rest of the stream: tar writers may pad past the end-of-archive blocks.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[16 * 1024];
        while (await ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0)
        {
        }
    }

    private void Observe(ReadOnlySpan<byte> bytes)
    {
        _hash.AppendData(bytes);
        _length += bytes.Length;
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
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }
}
