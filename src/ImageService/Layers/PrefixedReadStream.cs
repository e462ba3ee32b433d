namespace Berth.ImageService.Layers;

/// <summary>Replays bytes already read from a non-seekable stream (the magic-number sniff), then reads on from it.</summary>
internal sealed class PrefixedReadStream : Stream
{
    private readonly byte[] _prefix;
    private readonly Stream _inner;
    private int _prefixPosition;

    public PrefixedReadStream(byte[] prefix, Stream inner)
    {
        _prefix = prefix;
        _inner = inner;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_prefixPosition < _prefix.Length)
        {
            return TakePrefix(buffer);
        }
        return _inner.Read(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_prefixPosition < _prefix.Length)
        {
            return ValueTask.FromResult(TakePrefix(buffer.Span));
        }
        return _inner.ReadAsync(buffer, cancellationToken);
    }

    private int TakePrefix(Span<byte> buffer)
    {
        int n = Math.Min(buffer.Length, _prefix.Length - _prefixPosition);
        _prefix.AsSpan(_prefixPosition, n).CopyTo(buffer);
        _prefixPosition += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
