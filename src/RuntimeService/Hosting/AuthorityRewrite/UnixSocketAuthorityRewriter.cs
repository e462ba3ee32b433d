using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Berth.RuntimeService.Hosting.AuthorityRewrite;

/// <summary>
/// Kestrel connection middleware for the CRI unix socket: turns the HTTP/2 <c>:authority</c> that Go gRPC
/// clients send when they dial a unix socket (the socket path, e.g. <c>/run/berth/berth.sock</c>) into one
/// Kestrel accepts, by replacing every '/' with '-'. Hook it into the plaintext HTTP/2 unix-socket listener:
/// <code>kestrel.ListenUnixSocket(path, listen => listen.Use(UnixSocketAuthorityRewriter.Middleware));</code>
/// </summary>
/// <remarks>
/// Why: Kestrel validates <c>:authority</c> as a Host header and resets the stream with PROTOCOL_ERROR when it
/// holds a '/', and has no option to turn the check off (dotnet/aspnetcore #18522, #47043). crictl, critest and
/// many CSI tools dial that way; kubelet 1.26 and later send "localhost".
/// How: the connection's input is re-fed by a loop that forwards the client preface and every frame byte for
/// byte, except inside header blocks (HEADERS and its CONTINUATIONs), where <see cref="HpackAuthorityRewriter"/>
/// rewrites literal <c>:authority</c> values in place with the same encoded length. Nothing is re-encoded, so frame
/// lengths and padding stay as sent and both ends' HPACK dynamic tables never diverge. A connection that does not
/// open with the HTTP/2 preface (HTTP/1.1 on a mixed listener) is forwarded untouched.
/// </remarks>
public static class UnixSocketAuthorityRewriter
{
    /// <summary>
    /// A header block we may hold back to rewrite. Kestrel's own limits reject far smaller blocks; past this we
    /// forward unchanged. It must not exceed the transport's read buffer (1 MiB by default) or the transport would
    /// stop reading before the block is whole.
    /// </summary>
    internal const int MaxHeldHeaderBlock = 1024 * 1024;

    // Backpressure towards the client: the loop stops reading while Kestrel has this much unread. It must stay
    // above Kestrel's largest frame (Http2Limits.MaxFrameSize, 16 KiB by default): Kestrel waits for a whole
    // frame before consuming, and we forward non-header frames as their bytes arrive.
    private const int PauseForwardingAt = 1024 * 1024;

    /// <summary>The middleware, for <c>ListenOptions.Use</c>.</summary>
    public static ConnectionDelegate Middleware(ConnectionDelegate next) =>
        connection => ServeAsync(connection, next);

    private static async Task ServeAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        IDuplexPipe transport = connection.Transport;
        var rewritten = new Pipe(new PipeOptions(
            pool: connection.Features.Get<IMemoryPoolFeature>()?.MemoryPool,
            pauseWriterThreshold: PauseForwardingAt,
            resumeWriterThreshold: PauseForwardingAt / 2,
            useSynchronizationContext: false));
        connection.Transport = new DuplexPipe(rewritten.Reader, transport.Output);
        Task forwarding = ForwardAsync(transport.Input, rewritten.Writer);
        try
        {
            await next(connection);
        }
        finally
        {
            // Kestrel is done with the connection, but the loop may still wait for client bytes that nobody
            // will read: wake it so it ends. The transport completes its own pipes when the connection is disposed.
            transport.Input.CancelPendingRead();
            await forwarding;
            connection.Transport = transport;
        }
    }

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="target"/> through the frame rewriter until the client's
    /// input ends (target is then completed with the same error, if any), Kestrel stops reading, or the read is
    /// cancelled.
    /// </summary>
    private static async Task ForwardAsync(PipeReader source, PipeWriter target)
    {
        var framing = new FrameForwarder();
        Exception? failure = null;
        try
        {
            while (true)
            {
                ReadResult read = await source.ReadAsync();
                if (read.IsCanceled)
                {
                    source.AdvanceTo(read.Buffer.Start);
                    break;
                }
                ReadOnlySequence<byte> buffer = read.Buffer;
                SequencePosition forwarded = framing.Forward(buffer, target, inputEnded: read.IsCompleted);
                source.AdvanceTo(forwarded, buffer.End);
                FlushResult flush = await target.FlushAsync();
                if (read.IsCompleted || flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception error)
        {
            failure = error;
        }
        await target.CompleteAsync(failure);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>The few facts about the client's byte stream that outlive one read.</summary>
    private sealed class FrameForwarder
    {
        private static ReadOnlySpan<byte> ClientPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

        private bool _prefaceSeen;
        private bool _notHttp2;
        private long _payloadBytesToCopy;

        /// <summary>
        /// Writes to <paramref name="output"/> everything in <paramref name="input"/> that can go now and returns
        /// where that ends; the rest (a partial frame header or header block) waits for the next read, unless the
        /// input has ended, when it is forwarded as it is.
        /// </summary>
        public SequencePosition Forward(ReadOnlySequence<byte> input, PipeWriter output, bool inputEnded)
        {
            ReadOnlySequence<byte> rest = input;
            while (!rest.IsEmpty)
            {
                if (_notHttp2)
                {
                    break;
                }
                if (!_prefaceSeen)
                {
                    if (!StartsWithPrefaceSoFar(rest))
                    {
                        _notHttp2 = true;
                        continue;
                    }
                    if (rest.Length < ClientPreface.Length)
                    {
                        break;
                    }
                    rest = Copy(rest, ClientPreface.Length, output);
                    _prefaceSeen = true;
                    continue;
                }
                if (_payloadBytesToCopy > 0)
                {
                    long count = Math.Min(_payloadBytesToCopy, rest.Length);
                    rest = Copy(rest, count, output);
                    _payloadBytesToCopy -= count;
                    continue;
                }
                if (!FrameHeader.TryRead(rest, 0, out FrameHeader header))
                {
                    break;
                }
                if (header.Type == FrameHeader.Headers)
                {
                    HeaderBlockExtent extent = MeasureHeaderBlock(rest, out int blockLength);
                    if (extent == HeaderBlockExtent.Whole)
                    {
                        rest = RewriteAndCopy(rest, blockLength, output);
                        continue;
                    }
                    if (extent == HeaderBlockExtent.Partial && !inputEnded)
                    {
                        break;
                    }
                    // Malformed or too large to hold back: the HEADERS frame and its CONTINUATIONs go as they are.
                }
                rest = Copy(rest, FrameHeader.Size, output);
                _payloadBytesToCopy = header.Length;
            }
            if (inputEnded || _notHttp2)
            {
                // Bytes that are not HTTP/2, or the truncated tail of a closed stream: Kestrel judges them.
                rest = Copy(rest, rest.Length, output);
            }
            return rest.Start;
        }

        private static bool StartsWithPrefaceSoFar(ReadOnlySequence<byte> input)
        {
            Span<byte> start = stackalloc byte[ClientPreface.Length];
            int length = (int)Math.Min(input.Length, ClientPreface.Length);
            input.Slice(0, length).CopyTo(start);
            return start[..length].SequenceEqual(ClientPreface[..length]);
        }

        private enum HeaderBlockExtent
        {
            Whole,
            Partial,
            NotRewritable,
        }

        /// <summary>
        /// Finds the end of the header block that starts with the HEADERS frame at the start of
        /// <paramref name="input"/>: that frame and the CONTINUATION frames that must follow it, up to END_HEADERS.
        /// </summary>
        private static HeaderBlockExtent MeasureHeaderBlock(ReadOnlySequence<byte> input, out int blockLength)
        {
            blockLength = 0;
            long frameStart = 0;
            while (true)
            {
                if (!FrameHeader.TryRead(input, frameStart, out FrameHeader header))
                {
                    return input.Length >= MaxHeldHeaderBlock ? HeaderBlockExtent.NotRewritable : HeaderBlockExtent.Partial;
                }
                if (frameStart > 0 && header.Type != FrameHeader.Continuation)
                {
                    return HeaderBlockExtent.NotRewritable;
                }
                long frameEnd = frameStart + FrameHeader.Size + header.Length;
                if (frameEnd > MaxHeldHeaderBlock)
                {
                    return HeaderBlockExtent.NotRewritable;
                }
                if (input.Length < frameEnd)
                {
                    return HeaderBlockExtent.Partial;
                }
                if (header.EndsHeaders)
                {
                    blockLength = (int)frameEnd;
                    return HeaderBlockExtent.Whole;
                }
                frameStart = frameEnd;
            }
        }

        private static ReadOnlySequence<byte> RewriteAndCopy(ReadOnlySequence<byte> input, int blockLength, PipeWriter output)
        {
            Span<byte> frames = output.GetSpan(blockLength)[..blockLength];
            input.Slice(0, blockLength).CopyTo(frames);
            HeaderBlockFrames.RewriteAuthority(frames);
            output.Advance(blockLength);
            return input.Slice(blockLength);
        }

        private static ReadOnlySequence<byte> Copy(ReadOnlySequence<byte> input, long count, PipeWriter output)
        {
            ReadOnlySequence<byte> part = input.Slice(0, count);
            foreach (ReadOnlyMemory<byte> segment in part)
            {
                output.Write(segment.Span);
            }
            return input.Slice(part.End);
        }
    }

    /// <summary>A header block as it travels: HEADERS then CONTINUATION frames, each carrying a fragment.</summary>
    private static class HeaderBlockFrames
    {
        /// <summary>
        /// Rewrites the <c>:authority</c> in the block carried by <paramref name="frames"/> (whole frames, headers
        /// included), in place. Frame headers, padding and priority fields are not touched.
        /// </summary>
        public static void RewriteAuthority(Span<byte> frames)
        {
            int fragmentsLength = 0;
            int fragments = 0;
            Range onlyFragment = default;
            for (int offset = 0; offset < frames.Length; fragments++)
            {
                if (!TryNextFragment(frames, ref offset, out Range fragment))
                {
                    return;
                }
                fragmentsLength += fragment.GetOffsetAndLength(frames.Length).Length;
                onlyFragment = fragment;
            }
            if (fragments == 1)
            {
                HpackAuthorityRewriter.TryRewrite(frames[onlyFragment]);
                return;
            }
            // HPACK strings (even single Huffman codes) may straddle frames: rewrite a joined copy, then put it back.
            byte[] joined = ArrayPool<byte>.Shared.Rent(fragmentsLength);
            try
            {
                Span<byte> block = joined.AsSpan(0, fragmentsLength);
                MoveFragments(frames, block, toFrames: false);
                if (HpackAuthorityRewriter.TryRewrite(block))
                {
                    MoveFragments(frames, block, toFrames: true);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(joined);
            }
        }

        private static void MoveFragments(Span<byte> frames, Span<byte> block, bool toFrames)
        {
            int blockOffset = 0;
            for (int offset = 0; offset < frames.Length;)
            {
                TryNextFragment(frames, ref offset, out Range range);
                Span<byte> fragment = frames[range];
                Span<byte> joinedPart = block.Slice(blockOffset, fragment.Length);
                if (toFrames)
                {
                    joinedPart.CopyTo(fragment);
                }
                else
                {
                    fragment.CopyTo(joinedPart);
                }
                blockOffset += fragment.Length;
            }
        }

        /// <summary>The fragment of the frame at <paramref name="offset"/>, which then moves to the next frame.</summary>
        private static bool TryNextFragment(ReadOnlySpan<byte> frames, ref int offset, out Range fragment)
        {
            fragment = default;
            FrameHeader header = FrameHeader.Read(frames[offset..]);
            int start = offset + FrameHeader.Size;
            int end = start + header.Length;
            if (header.Type == FrameHeader.Headers)
            {
                if (header.IsPadded)
                {
                    if (start == end)
                    {
                        return false;
                    }
                    end -= frames[start];
                    start++;
                }
                if (header.HasPriority)
                {
                    start += 5;
                }
                if (start > end)
                {
                    return false;
                }
            }
            fragment = start..end;
            offset += FrameHeader.Size + header.Length;
            return true;
        }
    }

    /// <summary>The 9-byte HTTP/2 frame header (RFC 9113 section 4.1), as far as this rewriter cares.</summary>
    private readonly record struct FrameHeader(int Length, byte Type, byte Flags)
    {
        public const int Size = 9;
        public const byte Headers = 0x1;
        public const byte Continuation = 0x9;

        public bool EndsHeaders => (Flags & 0x4) != 0;

        public bool IsPadded => (Flags & 0x8) != 0;

        public bool HasPriority => (Flags & 0x20) != 0;

        public static FrameHeader Read(ReadOnlySpan<byte> bytes) =>
            new((bytes[0] << 16) | BinaryPrimitives.ReadUInt16BigEndian(bytes[1..]), bytes[3], bytes[4]);

        public static bool TryRead(ReadOnlySequence<byte> input, long offset, out FrameHeader header)
        {
            header = default;
            if (input.Length - offset < Size)
            {
                return false;
            }
            Span<byte> bytes = stackalloc byte[Size];
            input.Slice(offset, Size).CopyTo(bytes);
            header = Read(bytes);
            return true;
        }
    }
}
