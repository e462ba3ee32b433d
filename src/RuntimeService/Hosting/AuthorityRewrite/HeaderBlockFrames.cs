using System.Buffers;

namespace Berth.RuntimeService.Hosting.AuthorityRewrite;

/// <summary>
/// A header block as it travels (RFC 9113 section 4.3): a HEADERS frame then CONTINUATION frames, each carrying a
/// fragment of one HPACK block.
/// </summary>
internal static class HeaderBlockFrames
{
    /// <summary>
    /// Rewrites the <c>:authority</c> in the block carried by <paramref name="frames"/> (whole frames, headers
    /// included, ending with END_HEADERS), in place; true when something changed. Frame headers, padding and
    /// priority fields are not touched. The work is a fixed number of passes over the block.
    /// </summary>
    public static bool RewriteAuthority(Span<byte> frames)
    {
        int fragmentsLength = 0;
        int fragments = 0;
        Range onlyFragment = default;
        for (int offset = 0; offset < frames.Length; fragments++)
        {
            if (!TryNextFragment(frames, ref offset, out Range fragment))
            {
                return false;
            }
            fragmentsLength += fragment.GetOffsetAndLength(frames.Length).Length;
            onlyFragment = fragment;
        }
        if (fragments == 1)
        {
            return HpackAuthorityRewriter.TryRewrite(frames[onlyFragment]);
        }
        // HPACK strings (even single Huffman codes) may straddle frames: rewrite a joined copy, then put it back.
        byte[] joined = ArrayPool<byte>.Shared.Rent(fragmentsLength);
        try
        {
            Span<byte> block = joined.AsSpan(0, fragmentsLength);
            MoveFragments(frames, block, toFrames: false);
            if (!HpackAuthorityRewriter.TryRewrite(block))
            {
                return false;
            }
            MoveFragments(frames, block, toFrames: true);
            return true;
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
        Http2FrameHeader header = Http2FrameHeader.Read(frames[offset..]);
        int start = offset + Http2FrameHeader.Size;
        int end = start + header.Length;
        if (header.Type == Http2FrameHeader.Headers)
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
        offset += Http2FrameHeader.Size + header.Length;
        return true;
    }
}
