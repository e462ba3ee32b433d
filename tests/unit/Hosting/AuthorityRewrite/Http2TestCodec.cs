using System.Buffers.Binary;
using System.Text;
using Berth.RuntimeService.Hosting.AuthorityRewrite;

namespace Berth.Tests.Unit.Hosting.AuthorityRewrite;

/// <summary>
/// Builds HPACK header blocks field by field (RFC 7541 section 6), so each test states exactly which
/// representation it sends.
/// </summary>
internal sealed class HpackBlock
{
    private readonly List<byte> _bytes = [];

    public enum Indexing
    {
        Incremental,
        Without,
        Never,
    }

    public byte[] ToArray() => [.. _bytes];

    public HpackBlock Indexed(int index)
    {
        WriteInteger(0x80, 7, index);
        return this;
    }

    public HpackBlock SizeUpdate(int maxSize)
    {
        WriteInteger(0x20, 5, maxSize);
        return this;
    }

    public HpackBlock Literal(Indexing indexing, int nameIndex, string value, bool huffman = false)
    {
        (byte pattern, int prefix) = Representation(indexing);
        WriteInteger(pattern, prefix, nameIndex);
        WriteString(value, huffman);
        return this;
    }

    public HpackBlock Literal(Indexing indexing, string name, string value, bool huffmanName = false, bool huffmanValue = false)
    {
        (byte pattern, int prefix) = Representation(indexing);
        WriteInteger(pattern, prefix, 0);
        WriteString(name, huffmanName);
        WriteString(value, huffmanValue);
        return this;
    }

    private static (byte Pattern, int Prefix) Representation(Indexing indexing) => indexing switch
    {
        Indexing.Incremental => (0x40, 6),
        Indexing.Without => (0x00, 4),
        _ => (0x10, 4),
    };

    private void WriteString(string text, bool huffman)
    {
        byte[] octets = huffman ? TestHuffman.Encode(text) : Encoding.Latin1.GetBytes(text);
        WriteInteger(huffman ? (byte)0x80 : (byte)0, 7, octets.Length);
        _bytes.AddRange(octets);
    }

    private void WriteInteger(byte pattern, int prefixBits, int value)
    {
        int prefixMax = (1 << prefixBits) - 1;
        if (value < prefixMax)
        {
            _bytes.Add((byte)(pattern | value));
            return;
        }
        _bytes.Add((byte)(pattern | prefixMax));
        value -= prefixMax;
        while (value >= 0x80)
        {
            _bytes.Add((byte)(value % 0x80 + 0x80));
            value /= 0x80;
        }
        _bytes.Add((byte)value);
    }
}

/// <summary>
/// Huffman coding for the tests, written differently from the code under test: encoding concatenates bits
/// as text, decoding looks prefixes up in a dictionary. It shares only the code table, which the tests check
/// against RFC 7541 Appendix B.
/// </summary>
internal static class TestHuffman
{
    private static readonly Dictionary<string, int> SymbolByBits = HpackHuffman.Codes
        .Select((code, symbol) => (Bits: Bits(code), Symbol: symbol))
        .ToDictionary(entry => entry.Bits, entry => entry.Symbol);

    public static byte[] Encode(string text)
    {
        var bits = new StringBuilder();
        foreach (byte symbol in Encoding.Latin1.GetBytes(text))
        {
            bits.Append(Bits(HpackHuffman.Codes[symbol]));
        }
        while (bits.Length % 8 != 0)
        {
            bits.Append('1');
        }
        var bytes = new byte[bits.Length / 8];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = Convert.ToByte(bits.ToString(i * 8, 8), 2);
        }
        return bytes;
    }

    public static string Decode(ReadOnlySpan<byte> encoded)
    {
        var text = new StringBuilder();
        string pending = "";
        foreach (byte octet in encoded)
        {
            foreach (char bit in Convert.ToString(octet, 2).PadLeft(8, '0'))
            {
                pending += bit;
                if (SymbolByBits.TryGetValue(pending, out int symbol))
                {
                    Assert.NotEqual(HpackHuffman.EndOfString, symbol);
                    text.Append((char)symbol);
                    pending = "";
                }
            }
        }
        Assert.True(pending.Length <= 7 && pending.All(bit => bit == '1'), $"bad Huffman padding '{pending}'");
        return text.ToString();
    }

    private static string Bits(HuffmanCode code) => Convert.ToString(code.Code, 2).PadLeft(code.BitLength, '0');
}

/// <summary>
/// An HPACK decoder (RFC 7541) with its own static and dynamic tables: one instance per connection, like the
/// server's, so a test sees what Kestrel would see.
/// </summary>
internal sealed class HpackTestDecoder
{
    private static readonly (string Name, string Value)[] StaticTable =
    [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""),
        ("cache-control", ""), ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""),
        ("content-length", ""), ("content-location", ""), ("content-range", ""), ("content-type", ""),
        ("cookie", ""), ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
        ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
        ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""),
        ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""),
        ("retry-after", ""), ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""),
        ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
    ];

    // Newest first, as HPACK indexes it.
    private readonly List<(string Name, string Value)> _dynamic = [];
    private int _maxSize = 4096;

    public List<(string Name, string Value)> Decode(ReadOnlySpan<byte> block)
    {
        var fields = new List<(string, string)>();
        int position = 0;
        while (position < block.Length)
        {
            byte first = block[position];
            if ((first & 0x80) != 0)
            {
                fields.Add(Entry(ReadInteger(block, ref position, 7)));
            }
            else if ((first & 0xe0) == 0x20)
            {
                _maxSize = ReadInteger(block, ref position, 5);
                Evict(0);
            }
            else
            {
                bool incremental = (first & 0xc0) == 0x40;
                int nameIndex = ReadInteger(block, ref position, incremental ? 6 : 4);
                string name = nameIndex == 0 ? ReadString(block, ref position) : Entry(nameIndex).Name;
                string value = ReadString(block, ref position);
                fields.Add((name, value));
                if (incremental)
                {
                    Evict(EntrySize(name, value));
                    _dynamic.Insert(0, (name, value));
                }
            }
        }
        return fields;
    }

    private (string Name, string Value) Entry(int index) =>
        index <= StaticTable.Length ? StaticTable[index - 1] : _dynamic[index - StaticTable.Length - 1];

    private static int EntrySize(string name, string value) => name.Length + value.Length + 32;

    private void Evict(int room)
    {
        while (_dynamic.Count > 0 && _dynamic.Sum(entry => EntrySize(entry.Name, entry.Value)) + room > _maxSize)
        {
            _dynamic.RemoveAt(_dynamic.Count - 1);
        }
    }

    private static int ReadInteger(ReadOnlySpan<byte> block, ref int position, int prefixBits)
    {
        int prefixMax = (1 << prefixBits) - 1;
        int value = block[position++] & prefixMax;
        if (value < prefixMax)
        {
            return value;
        }
        int shift = 0;
        byte next;
        do
        {
            next = block[position++];
            value += (next & 0x7f) << shift;
            shift += 7;
        }
        while ((next & 0x80) != 0);
        return value;
    }

    private static string ReadString(ReadOnlySpan<byte> block, ref int position)
    {
        bool huffman = (block[position] & 0x80) != 0;
        int length = ReadInteger(block, ref position, 7);
        ReadOnlySpan<byte> octets = block.Slice(position, length);
        position += length;
        return huffman ? TestHuffman.Decode(octets) : Encoding.Latin1.GetString(octets);
    }
}

/// <summary>HTTP/2 frames (RFC 9113 section 4.1) for the tests.</summary>
internal static class Http2Frames
{
    public const byte Data = 0x0;
    public const byte Headers = 0x1;
    public const byte RstStream = 0x3;
    public const byte Settings = 0x4;
    public const byte GoAway = 0x7;
    public const byte WindowUpdate = 0x8;
    public const byte Continuation = 0x9;

    public const byte EndStream = 0x1;
    public const byte Ack = 0x1;
    public const byte EndHeaders = 0x4;
    public const byte Padded = 0x8;
    public const byte Priority = 0x20;

    public static byte[] Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    public static byte[] Frame(byte type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame.AsSpan(9));
        return frame;
    }
}
