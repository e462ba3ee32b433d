using System.Buffers.Binary;
using System.Text;
using ICSharpCode.SharpZipLib.Zip.Compression;

namespace Berth.Api.Streaming.Spdy;

/// <summary>
/// A SPDY/3 name/value header block before compression (section 2.6.10): a 32-bit count of pairs,
/// then for each a 32-bit length and the name (lowercase), a 32-bit length and the value (several
/// values of one name are joined with NUL). Go's spdystream refuses a block with an uppercase or
/// repeated name, so names are lowercased here and each appears once.
/// </summary>
public static class SpdyHeaderBlock
{
    /// <summary>The most bytes a decoded block may take (a block is a few hundred bytes in practice).</summary>
    public const int MaxDecodedLength = 256 * 1024;

    public static byte[] Encode(IEnumerable<KeyValuePair<string, string>> headers)
    {
        var pairs = headers.Select(pair => (Name: Encoding.UTF8.GetBytes(pair.Key.ToLowerInvariant()), Value: Encoding.UTF8.GetBytes(pair.Value))).ToArray();
        byte[] block = new byte[4 + pairs.Sum(pair => 8 + pair.Name.Length + pair.Value.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(block, (uint)pairs.Length);
        int offset = 4;
        foreach (var (name, value) in pairs)
        {
            offset = Put(block, offset, name);
            offset = Put(block, offset, value);
        }
        return block;
    }

    /// <summary>The pairs of a decoded block, names as sent (lowercase); <see cref="SpdyProtocolException"/> when malformed.</summary>
    public static Dictionary<string, string> Decode(ReadOnlySpan<byte> block)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (block.Length < 4)
        {
            throw new SpdyProtocolException("header block shorter than its pair count");
        }
        uint count = BinaryPrimitives.ReadUInt32BigEndian(block);
        int offset = 4;
        for (uint i = 0; i < count; i++)
        {
            string name = Take(block, ref offset);
            string value = Take(block, ref offset);
            if (name.Length == 0 || !headers.TryAdd(name, value))
            {
                throw new SpdyProtocolException($"header block has an empty or repeated name '{name}'");
            }
        }
        if (offset != block.Length)
        {
            throw new SpdyProtocolException($"header block has {block.Length - offset} bytes after its {count} pairs");
        }
        return headers;
    }

    private static int Put(byte[] block, int offset, byte[] bytes)
    {
        BinaryPrimitives.WriteUInt32BigEndian(block.AsSpan(offset), (uint)bytes.Length);
        bytes.CopyTo(block, offset + 4);
        return offset + 4 + bytes.Length;
    }

    private static string Take(ReadOnlySpan<byte> block, ref int offset)
    {
        if (block.Length - offset < 4)
        {
            throw new SpdyProtocolException("header block ends inside a length");
        }
        uint length = BinaryPrimitives.ReadUInt32BigEndian(block[offset..]);
        offset += 4;
        if (length > (uint)(block.Length - offset))
        {
            throw new SpdyProtocolException($"header block announces {length} bytes, {block.Length - offset} remain");
        }
        string text = Encoding.UTF8.GetString(block.Slice(offset, (int)length));
        offset += (int)length;
        return text;
    }
}

/// <summary>
/// The sending half of a connection's header compression: one zlib stream for the connection's
/// whole life, primed with <see cref="SpdyDictionary"/> (its Adler-32 in the zlib header), each block
/// flushed so that the peer can inflate it at once (SPDY/3 section 2.6.10.1). Blocks are stored, not
/// compressed: with a preset dictionary, SharpZipLib's compressing levels and its flush (an empty static
/// block, zlib's partial flush) produced streams that Go's compress/flate, which kubelet and kubectl read
/// them with, decodes to other bytes (checked with Go 1.19 on the frames a session sends); a stored
/// block ends on a byte boundary with the empty stored block of zlib's sync flush, which every inflater
/// reads. Header blocks are a few dozen bytes, so nothing is lost. Not thread-safe: the connection
/// compresses under its write lock, so blocks go out in the order they were made.
/// </summary>
public sealed class SpdyHeaderCompressor
{
    private readonly Deflater _deflater = new(Deflater.NO_COMPRESSION, noZlibHeaderOrFooter: false);
    private readonly byte[] _output = new byte[4096];

    public SpdyHeaderCompressor()
    {
        _deflater.SetDictionary(SpdyDictionary.Create());
    }

    /// <summary>Compresses one encoded block (<see cref="SpdyHeaderBlock.Encode"/>).</summary>
    public byte[] Compress(byte[] block)
    {
        _deflater.SetInput(block, 0, block.Length);
        _deflater.Flush();
        using var compressed = new MemoryStream();
        int n;
        do
        {
            n = _deflater.Deflate(_output, 0, _output.Length);
            compressed.Write(_output, 0, n);
        }
        while (n == _output.Length || !_deflater.IsNeedingInput);
        return compressed.ToArray();
    }
}

/// <summary>
/// The receiving half: one inflater for the connection's life, given <see cref="SpdyDictionary"/>
/// when the stream asks for it. Each header block is inflated as it arrives, in wire order.
/// </summary>
public sealed class SpdyHeaderDecompressor
{
    private readonly Inflater _inflater = new(noHeader: false);
    private readonly byte[] _output = new byte[4096];

    /// <summary>Inflates one compressed block; <see cref="SpdyProtocolException"/> when it is not valid zlib or too large.</summary>
    public byte[] Decompress(ReadOnlySpan<byte> compressed)
    {
        byte[] input = compressed.ToArray();
        _inflater.SetInput(input, 0, input.Length);
        using var block = new MemoryStream();
        try
        {
            while (true)
            {
                int n = _inflater.Inflate(_output, 0, _output.Length);
                block.Write(_output, 0, n);
                if (block.Length > SpdyHeaderBlock.MaxDecodedLength)
                {
                    throw new SpdyProtocolException($"header block inflates to more than {SpdyHeaderBlock.MaxDecodedLength} bytes");
                }
                if (n > 0)
                {
                    continue;
                }
                if (!_inflater.IsNeedingDictionary)
                {
                    // Needs more input (the block is done), or finished: the block is what was inflated.
                    break;
                }
                _inflater.SetDictionary(SpdyDictionary.Create());
            }
        }
        catch (ICSharpCode.SharpZipLib.SharpZipBaseException error)
        {
            throw new SpdyProtocolException($"header block is not valid zlib: {error.Message}");
        }
        return block.ToArray();
    }
}
