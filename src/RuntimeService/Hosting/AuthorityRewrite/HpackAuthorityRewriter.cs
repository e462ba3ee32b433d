namespace Berth.RuntimeService.Hosting.AuthorityRewrite;

/// <summary>
/// Rewrites, inside one HPACK header block (RFC 7541), the value of every literal <c>:authority</c> field so
/// that each '/' and '%' becomes '-', without changing a single length: a raw string gets the byte swapped, a
/// Huffman string gets the 6-bit code of '/' or '%' overwritten with the 6-bit code of '-'. Because the decoded
/// value keeps its length, the dynamic table entry the server stores has the size the client accounts for, and
/// later fields that reference that entry by index already hold the rewritten value. Nothing else in the block is
/// touched.
/// </summary>
/// <remarks>
/// .NET's HPACK decoder is internal to System.Net.Http and Kestrel; there is no library to rewrite a block with.
/// A literal whose name refers to a dynamic table entry named <c>:authority</c> is not recognised: that would
/// need a mirror of the client's dynamic table, and encoders use the static name (index 1) instead.
/// </remarks>
internal static class HpackAuthorityRewriter
{
    private const int AuthorityStaticIndex = 1;

    private const byte Replacement = (byte)'-';

    private static ReadOnlySpan<byte> AuthorityName => ":authority"u8;

    // What a socket-path authority holds that Kestrel refuses in a host: '/' (grpc-go before 1.57 sends the path as
    // it is) and '%' (1.57 and later percent-encode it, "%2Frun%2Fberth%2Fberth.sock"). Their Huffman codes have 6
    // bits, as the replacement's does.
    private static ReadOnlySpan<byte> RefusedByKestrel => "/%"u8;

    // ":authority" Huffman-encoded: 57 bits of codes, then 7 bits of EOS padding. A valid encoding of a given
    // string is unique (padding is at most 7 bits, all ones), so comparing encoded bytes is exact.
    private static ReadOnlySpan<byte> HuffmanAuthorityName => [0xb8, 0x3b, 0x53, 0x39, 0xec, 0x32, 0x7d, 0x7f];

    /// <summary>
    /// Rewrites the block in place; true when something changed. A block that cannot be parsed is left exactly
    /// as it came (the server will reject it with a better error than we could).
    /// </summary>
    public static bool TryRewrite(Span<byte> headerBlock)
    {
        // The first walk only reads, so a block found malformed halfway is never left half rewritten.
        if (!TryWalk(headerBlock, rewrite: false, out bool authorityIsRefused) || !authorityIsRefused)
        {
            return false;
        }
        TryWalk(headerBlock, rewrite: true, out _);
        return true;
    }

    private static bool TryWalk(Span<byte> block, bool rewrite, out bool authorityIsRefused)
    {
        authorityIsRefused = false;
        int position = 0;
        while (position < block.Length)
        {
            byte first = block[position];
            if ((first & 0x80) != 0)
            {
                // Indexed field (6.1): its value is already in the server's table, rewritten when it was added.
                if (!TryReadInteger(block, ref position, prefixBits: 7, out _))
                {
                    return false;
                }
                continue;
            }
            if ((first & 0xe0) == 0x20)
            {
                // Dynamic table size update (6.3).
                if (!TryReadInteger(block, ref position, prefixBits: 5, out _))
                {
                    return false;
                }
                continue;
            }
            // Literal field (6.2): with incremental indexing (01), or without indexing (0000) / never indexed (0001).
            int prefixBits = (first & 0xc0) == 0x40 ? 6 : 4;
            if (!TryReadInteger(block, ref position, prefixBits, out int nameIndex))
            {
                return false;
            }
            bool isAuthority;
            if (nameIndex == 0)
            {
                if (!TryReadString(block, ref position, out HpackString name))
                {
                    return false;
                }
                isAuthority = block.Slice(name.Offset, name.Length)
                    .SequenceEqual(name.IsHuffman ? HuffmanAuthorityName : AuthorityName);
            }
            else
            {
                isAuthority = nameIndex == AuthorityStaticIndex;
            }
            if (!TryReadString(block, ref position, out HpackString value))
            {
                return false;
            }
            if (isAuthority)
            {
                Span<byte> encoded = block.Slice(value.Offset, value.Length);
                if (!TryReplaceRefused(encoded, value.IsHuffman, rewrite, out bool hadRefused))
                {
                    return false;
                }
                authorityIsRefused |= hadRefused;
            }
        }
        return true;
    }

    private static bool TryReplaceRefused(Span<byte> encoded, bool isHuffman, bool rewrite, out bool hadRefused)
    {
        if (!isHuffman)
        {
            hadRefused = encoded.ContainsAny(RefusedByKestrel);
            if (rewrite)
            {
                foreach (byte refused in RefusedByKestrel)
                {
                    encoded.Replace(refused, Replacement);
                }
            }
            return true;
        }
        if (!HpackHuffman.TryCount(encoded, RefusedByKestrel, out int refusedCount))
        {
            hadRefused = false;
            return false;
        }
        hadRefused = refusedCount > 0;
        if (rewrite && hadRefused)
        {
            HpackHuffman.Replace(encoded, RefusedByKestrel, Replacement);
        }
        return true;
    }

    /// <summary>An integer with an N-bit prefix (RFC 7541 section 5.1), starting in the current byte.</summary>
    private static bool TryReadInteger(ReadOnlySpan<byte> block, ref int position, int prefixBits, out int value)
    {
        int prefixMax = (1 << prefixBits) - 1;
        value = block[position++] & prefixMax;
        if (value < prefixMax)
        {
            return true;
        }
        for (int shift = 0; shift <= 21; shift += 7)
        {
            if (position >= block.Length)
            {
                return false;
            }
            byte next = block[position++];
            value += (next & 0x7f) << shift;
            if ((next & 0x80) == 0)
            {
                return true;
            }
        }
        // More than four continuation bytes: larger than any length or index a header block can hold.
        return false;
    }

    /// <summary>A string literal (RFC 7541 section 5.2): H bit, 7-bit-prefix length, then the octets.</summary>
    private static bool TryReadString(ReadOnlySpan<byte> block, ref int position, out HpackString value)
    {
        value = default;
        if (position >= block.Length)
        {
            return false;
        }
        bool isHuffman = (block[position] & 0x80) != 0;
        if (!TryReadInteger(block, ref position, prefixBits: 7, out int length) || length > block.Length - position)
        {
            return false;
        }
        value = new HpackString(position, length, isHuffman);
        position += length;
        return true;
    }

    private readonly record struct HpackString(int Offset, int Length, bool IsHuffman);
}
