using System.Buffers;

namespace Berth.RuntimeService.Hosting.AuthorityRewrite;

/// <summary>
/// The client's half of one connection, parsed as it arrives: the HTTP/2 client preface, then frames (RFC 9113
/// section 4). Every frame goes on as its bytes arrive, except header blocks (a HEADERS frame and its CONTINUATIONs,
/// up to END_HEADERS), which are held back whole, rewritten by <see cref="HeaderBlockFrames"/>, then sent on.
/// </summary>
/// <remarks>
/// The work is linear in the bytes received, whatever the frame sequence: every input byte is taken once, and is
/// either written on or appended to the held block, which grows by doubling and is rewritten once, when it ends. No
/// byte is ever read again on a later read; only a frame header cut by a read waits, in a 9-byte buffer.
/// </remarks>
internal sealed class Http2FrameForwarder : IDisposable
{
    /// <summary>
    /// The largest header block, in bytes of whole frames, that is held back to be rewritten; a larger one goes on
    /// unchanged. Kestrel refuses requests whose headers total far less (KestrelServerLimits.MaxRequestHeadersTotalSize,
    /// 32 KiB by default); this bounds the memory one connection can make berthd hold.
    /// </summary>
    public const int MaxHeldHeaderBlock = 1024 * 1024;

    private const int FirstHeldBufferSize = 4096;

    private static ReadOnlySpan<byte> ClientPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    private readonly byte[] _frameHeader = new byte[Http2FrameHeader.Size];
    private int _frameHeaderLength;
    private int _prefaceLength;
    private bool _notHttp2;
    private int _payloadLeft;
    private bool _payloadIsHeld;
    private bool _payloadEndsHeaders;
    private byte[]? _held;
    private int _heldLength;

    /// <summary>
    /// Bytes this forwarder has handled: each input byte once, each byte copied while the held block grows, and
    /// each held block once more when it is rewritten. It stays within a small multiple of the bytes received.
    /// </summary>
    public long BytesExamined { get; private set; }

    /// <summary>Whether a <c>:authority</c> on this connection has been rewritten.</summary>
    public bool HasRewrittenAuthority { get; private set; }

    /// <summary>Takes all of <paramref name="input"/>, writing to <paramref name="output"/> what can go now.</summary>
    public void Forward(ReadOnlySequence<byte> input, IBufferWriter<byte> output)
    {
        foreach (ReadOnlyMemory<byte> segment in input)
        {
            Forward(segment.Span, output);
        }
    }

    /// <summary>
    /// The client's input has ended: what is still held (a header block without its end, part of a frame header)
    /// goes on as it came, for Kestrel to judge.
    /// </summary>
    public void Complete(IBufferWriter<byte> output)
    {
        ReleaseHeldBlock(output);
        output.Write(_frameHeader.AsSpan(0, _frameHeaderLength));
        _frameHeaderLength = 0;
    }

    /// <summary>Gives a held block's buffer back to the pool; the connection is over.</summary>
    public void Dispose() => ReturnHeldBuffer();

    private void Forward(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        while (!input.IsEmpty)
        {
            int taken;
            if (_notHttp2)
            {
                output.Write(input);
                taken = input.Length;
            }
            else if (_prefaceLength < ClientPreface.Length)
            {
                taken = TakePreface(input, output);
            }
            else if (_payloadLeft > 0)
            {
                taken = TakePayload(input, output);
            }
            else
            {
                taken = TakeFrameHeader(input, output);
            }
            BytesExamined += taken;
            input = input[taken..];
        }
    }

    /// <summary>
    /// Forwards the bytes that continue the client preface. A connection that does not open with it (HTTP/1.1 on a
    /// mixed listener) is forwarded untouched from then on.
    /// </summary>
    private int TakePreface(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        ReadOnlySpan<byte> expected = ClientPreface[_prefaceLength..];
        ReadOnlySpan<byte> part = input[..Math.Min(input.Length, expected.Length)];
        if (!part.SequenceEqual(expected[..part.Length]))
        {
            _notHttp2 = true;
            return 0;
        }
        output.Write(part);
        _prefaceLength += part.Length;
        return part.Length;
    }

    private int TakeFrameHeader(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        int count = Math.Min(input.Length, Http2FrameHeader.Size - _frameHeaderLength);
        input[..count].CopyTo(_frameHeader.AsSpan(_frameHeaderLength));
        _frameHeaderLength += count;
        if (_frameHeaderLength == Http2FrameHeader.Size)
        {
            _frameHeaderLength = 0;
            StartFrame(Http2FrameHeader.Read(_frameHeader), output);
        }
        return count;
    }

    private void StartFrame(Http2FrameHeader header, IBufferWriter<byte> output)
    {
        if (_heldLength > 0 && header.Type != Http2FrameHeader.Continuation)
        {
            // A block interrupted by another frame (a connection error, RFC 9113 section 6.10) goes on as it came.
            ReleaseHeldBlock(output);
        }
        bool inBlock = _heldLength > 0 || header.Type == Http2FrameHeader.Headers;
        _payloadIsHeld = inBlock && _heldLength + Http2FrameHeader.Size + header.Length <= MaxHeldHeaderBlock;
        _payloadEndsHeaders = header.EndsHeaders;
        _payloadLeft = header.Length;
        if (_payloadIsHeld)
        {
            Hold(_frameHeader);
            EndFrameIfWhole(output);
            return;
        }
        // Not in a header block, or in one too large to hold: what is held and this frame go on unchanged.
        ReleaseHeldBlock(output);
        output.Write(_frameHeader);
    }

    private int TakePayload(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        ReadOnlySpan<byte> part = input[..Math.Min(input.Length, _payloadLeft)];
        if (_payloadIsHeld)
        {
            Hold(part);
        }
        else
        {
            output.Write(part);
        }
        _payloadLeft -= part.Length;
        EndFrameIfWhole(output);
        return part.Length;
    }

    private void EndFrameIfWhole(IBufferWriter<byte> output)
    {
        if (_payloadLeft > 0 || !_payloadIsHeld || !_payloadEndsHeaders)
        {
            return;
        }
        Span<byte> block = _held.AsSpan(0, _heldLength);
        BytesExamined += block.Length;
        HasRewrittenAuthority |= HeaderBlockFrames.RewriteAuthority(block);
        ReleaseHeldBlock(output);
    }

    private void Hold(ReadOnlySpan<byte> bytes)
    {
        int needed = _heldLength + bytes.Length;
        if (_held is null || needed > _held.Length)
        {
            // Doubling keeps the copies below the block's own size in total.
            byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(FirstHeldBufferSize, 2 * _heldLength)));
            _held.AsSpan(0, _heldLength).CopyTo(larger);
            BytesExamined += _heldLength;
            ReturnHeldBuffer();
            _held = larger;
        }
        bytes.CopyTo(_held.AsSpan(_heldLength));
        _heldLength = needed;
    }

    private void ReleaseHeldBlock(IBufferWriter<byte> output)
    {
        if (_heldLength == 0)
        {
            return;
        }
        output.Write(_held.AsSpan(0, _heldLength));
        _heldLength = 0;
        ReturnHeldBuffer();
    }

    private void ReturnHeldBuffer()
    {
        if (_held is not null)
        {
            ArrayPool<byte>.Shared.Return(_held);
            _held = null;
        }
    }
}
