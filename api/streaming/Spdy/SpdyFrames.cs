using System.Buffers.Binary;

namespace Berth.Api.Streaming.Spdy;

/// <summary>SPDY/3 control frame types (draft-mbelshe-httpbis-spdy-00, section 2.6; 3.1 keeps them and drops CREDENTIAL).</summary>
public enum SpdyFrameType : ushort
{
    /// <summary>Not a control frame: a DATA frame.</summary>
    Data = 0,
    SynStream = 1,
    SynReply = 2,
    RstStream = 3,
    Settings = 4,
    Ping = 6,
    GoAway = 7,
    Headers = 8,
    WindowUpdate = 9,
}

/// <summary>RST_STREAM status codes (SPDY/3.1 section 2.4.2).</summary>
public enum SpdyRstStatus : uint
{
    ProtocolError = 1,
    InvalidStream = 2,
    RefusedStream = 3,
    UnsupportedVersion = 4,
    Cancel = 5,
    InternalError = 6,
    FlowControlError = 7,
    StreamInUse = 8,
    StreamAlreadyClosed = 9,
    FrameTooLarge = 11,
}

/// <summary>GOAWAY status codes (SPDY/3.1 section 2.6.6).</summary>
public enum SpdyGoAwayStatus : uint
{
    Ok = 0,
    ProtocolError = 1,
    InternalError = 11,
}

/// <summary>Frame flags: FIN on SYN_STREAM, SYN_REPLY, HEADERS and DATA; UNIDIRECTIONAL on SYN_STREAM.</summary>
public static class SpdyFlags
{
    public const byte Fin = 0x01;
    public const byte Unidirectional = 0x02;
}

/// <summary>
/// The 8 bytes every SPDY frame starts with. A control frame: the control bit, a 15-bit version (3),
/// a 16-bit type, then 8 bits of flags and a 24-bit length. A DATA frame: a clear control bit and a
/// 31-bit stream id, then flags and length the same way. Integers are big-endian.
/// </summary>
public readonly record struct SpdyFrameHeader(SpdyFrameType Type, ushort Version, uint StreamId, byte Flags, int Length)
{
    public const int Size = 8;

    /// <summary>The largest frame payload the 24-bit length field can carry.</summary>
    public const int MaxLength = (1 << 24) - 1;

    public const ushort Version3 = 3;

    public bool IsControl => Type != SpdyFrameType.Data;

    public bool HasFin => (Flags & SpdyFlags.Fin) != 0;

    /// <summary>Parses the first 8 bytes of <paramref name="bytes"/>.</summary>
    public static SpdyFrameHeader Read(ReadOnlySpan<byte> bytes)
    {
        uint first = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        uint second = BinaryPrimitives.ReadUInt32BigEndian(bytes[4..]);
        byte flags = (byte)(second >> 24);
        int length = (int)(second & 0xffffff);
        if ((first & 0x80000000) == 0)
        {
            return new SpdyFrameHeader(SpdyFrameType.Data, 0, first & 0x7fffffff, flags, length);
        }
        return new SpdyFrameHeader((SpdyFrameType)(first & 0xffff), (ushort)((first >> 16) & 0x7fff), 0, flags, length);
    }

    /// <summary>Writes a control frame header (version 3) for a payload of <paramref name="length"/> bytes.</summary>
    public static void WriteControl(Span<byte> destination, SpdyFrameType type, byte flags, int length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, 0x80000000u | ((uint)Version3 << 16) | (ushort)type);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], ((uint)flags << 24) | (uint)length);
    }

    /// <summary>Writes a DATA frame header for <paramref name="length"/> bytes of stream <paramref name="streamId"/>.</summary>
    public static void WriteData(Span<byte> destination, uint streamId, byte flags, int length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, streamId & 0x7fffffff);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], ((uint)flags << 24) | (uint)length);
    }
}

/// <summary>SETTINGS ids this implementation reads or writes (SPDY/3 section 2.6.4).</summary>
public static class SpdySettings
{
    public const uint InitialWindowSize = 7;
}

/// <summary>
/// Encoders of whole control frames (header and payload) and decoders of their payloads. Header
/// blocks arrive here already compressed (<see cref="SpdyHeaderCompressor"/>): the order of
/// compression must be the order on the wire, which the connection's write lock keeps.
/// </summary>
public static class SpdyControlFrames
{
    /// <summary>SYN_STREAM: stream id, associated-to stream id (0), 3-bit priority, 8-bit slot (0), header block.</summary>
    public static byte[] SynStream(uint streamId, byte priority, byte flags, ReadOnlySpan<byte> compressedHeaders)
    {
        byte[] frame = new byte[SpdyFrameHeader.Size + 10 + compressedHeaders.Length];
        SpdyFrameHeader.WriteControl(frame, SpdyFrameType.SynStream, flags, 10 + compressedHeaders.Length);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), streamId & 0x7fffffff);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), 0);
        frame[16] = (byte)((priority & 0x7) << 5);
        frame[17] = 0;
        compressedHeaders.CopyTo(frame.AsSpan(18));
        return frame;
    }

    /// <summary>SYN_REPLY or HEADERS: stream id, header block.</summary>
    public static byte[] StreamHeaders(SpdyFrameType type, uint streamId, byte flags, ReadOnlySpan<byte> compressedHeaders)
    {
        byte[] frame = new byte[SpdyFrameHeader.Size + 4 + compressedHeaders.Length];
        SpdyFrameHeader.WriteControl(frame, type, flags, 4 + compressedHeaders.Length);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), streamId & 0x7fffffff);
        compressedHeaders.CopyTo(frame.AsSpan(12));
        return frame;
    }

    public static byte[] RstStream(uint streamId, SpdyRstStatus status) => TwoWords(SpdyFrameType.RstStream, streamId & 0x7fffffff, (uint)status);

    public static byte[] GoAway(uint lastGoodStreamId, SpdyGoAwayStatus status) => TwoWords(SpdyFrameType.GoAway, lastGoodStreamId & 0x7fffffff, (uint)status);

    /// <summary>WINDOW_UPDATE: stream id (0: the whole session, SPDY/3.1), then a 31-bit delta.</summary>
    public static byte[] WindowUpdate(uint streamId, int delta) => TwoWords(SpdyFrameType.WindowUpdate, streamId & 0x7fffffff, (uint)delta & 0x7fffffff);

    public static byte[] Ping(uint id)
    {
        byte[] frame = new byte[SpdyFrameHeader.Size + 4];
        SpdyFrameHeader.WriteControl(frame, SpdyFrameType.Ping, 0, 4);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), id);
        return frame;
    }

    /// <summary>SETTINGS with one entry per pair: 8 bits of flags (0) and a 24-bit id, then a 32-bit value.</summary>
    public static byte[] Settings(params (uint Id, uint Value)[] entries)
    {
        byte[] frame = new byte[SpdyFrameHeader.Size + 4 + 8 * entries.Length];
        SpdyFrameHeader.WriteControl(frame, SpdyFrameType.Settings, 0, 4 + 8 * entries.Length);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), (uint)entries.Length);
        for (int i = 0; i < entries.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12 + 8 * i), entries[i].Id & 0xffffff);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(16 + 8 * i), entries[i].Value);
        }
        return frame;
    }

    /// <summary>The entries of a SETTINGS payload: (id, value); <see cref="SpdyProtocolException"/> when it is malformed.</summary>
    public static IReadOnlyList<(uint Id, uint Value)> ReadSettings(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 4)
        {
            throw new SpdyProtocolException("SETTINGS frame shorter than its entry count");
        }
        uint count = BinaryPrimitives.ReadUInt32BigEndian(payload);
        if ((ulong)payload.Length != 4 + 8UL * count)
        {
            throw new SpdyProtocolException($"SETTINGS frame of {payload.Length} bytes does not hold {count} entries");
        }
        var entries = new (uint, uint)[count];
        for (int i = 0; i < count; i++)
        {
            entries[i] = (BinaryPrimitives.ReadUInt32BigEndian(payload[(4 + 8 * i)..]) & 0xffffff,
                BinaryPrimitives.ReadUInt32BigEndian(payload[(8 + 8 * i)..]));
        }
        return entries;
    }

    /// <summary>The two 32-bit words of an 8-byte payload (RST_STREAM, GOAWAY, WINDOW_UPDATE), the first without its high bit.</summary>
    public static (uint First, uint Second) ReadTwoWords(ReadOnlySpan<byte> payload, SpdyFrameType type)
    {
        if (payload.Length != 8)
        {
            throw new SpdyProtocolException($"{type} frame of {payload.Length} bytes, not 8");
        }
        return (BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7fffffff, BinaryPrimitives.ReadUInt32BigEndian(payload[4..]));
    }

    /// <summary>The stream id of a SYN_STREAM, SYN_REPLY or HEADERS payload and where its header block starts.</summary>
    public static (uint StreamId, int HeaderBlockOffset) ReadStreamId(ReadOnlySpan<byte> payload, SpdyFrameType type)
    {
        int offset = type == SpdyFrameType.SynStream ? 10 : 4;
        if (payload.Length < offset)
        {
            throw new SpdyProtocolException($"{type} frame of {payload.Length} bytes is too short");
        }
        return (BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7fffffff, offset);
    }

    private static byte[] TwoWords(SpdyFrameType type, uint first, uint second)
    {
        byte[] frame = new byte[SpdyFrameHeader.Size + 8];
        SpdyFrameHeader.WriteControl(frame, type, 0, 8);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), first);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), second);
        return frame;
    }
}

/// <summary>The peer broke the SPDY protocol; the message says how. The connection is closed with GOAWAY PROTOCOL_ERROR.</summary>
public sealed class SpdyProtocolException(string message) : Exception(message);
