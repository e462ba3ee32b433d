using System.Buffers.Binary;
using Google.Protobuf;

namespace Berth.Api.Shim;

/// <summary>
/// The protocol's framing: a 4-byte big-endian length, then one protobuf message of that length.
/// </summary>
public static class ShimFraming
{
    public const int HeaderLength = 4;

    /// <summary>Frames longer than this are refused (the connection is closed).</summary>
    public const int MaxFrameLength = 64 << 20;

    public static void WriteHeader(Span<byte> destination, int length)
    {
        if ((uint)length > MaxFrameLength)
        {
            throw new InvalidDataException($"frame of {length} bytes exceeds {MaxFrameLength}");
        }
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)length);
    }

    /// <summary>The body length a header announces; throws <see cref="InvalidDataException"/> past the maximum.</summary>
    public static int ReadHeader(ReadOnlySpan<byte> header)
    {
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length > MaxFrameLength)
        {
            throw new InvalidDataException($"frame of {length} bytes exceeds {MaxFrameLength}");
        }
        return (int)length;
    }

    /// <summary>Header and body in one array, ready to write.</summary>
    public static byte[] Encode(IMessage message)
    {
        int size = message.CalculateSize();
        byte[] frame = new byte[HeaderLength + size];
        WriteHeader(frame, size);
        message.WriteTo(frame.AsSpan(HeaderLength));
        return frame;
    }

    /// <summary>
    /// Decodes the first complete frame of <paramref name="buffer"/>: false when more bytes are needed,
    /// else the message and how many bytes it took.
    /// </summary>
    public static bool TryDecode<T>(ReadOnlySpan<byte> buffer, MessageParser<T> parser, out T? message, out int consumed)
        where T : IMessage<T>
    {
        message = default;
        consumed = 0;
        if (buffer.Length < HeaderLength)
        {
            return false;
        }
        int length = ReadHeader(buffer);
        if (buffer.Length < HeaderLength + length)
        {
            return false;
        }
        message = parser.ParseFrom(buffer.Slice(HeaderLength, length));
        consumed = HeaderLength + length;
        return true;
    }

    /// <summary>Reads one frame from a stream; null at a clean end of stream before any byte.</summary>
    public static async Task<T?> ReadAsync<T>(Stream stream, MessageParser<T> parser, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        byte[] header = new byte[HeaderLength];
        int got = await stream.ReadAtLeastAsync(header, HeaderLength, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (got == 0)
        {
            return null;
        }
        if (got < HeaderLength)
        {
            throw new EndOfStreamException("connection closed inside a frame header");
        }
        int length = ReadHeader(header);
        byte[] body = new byte[length];
        await stream.ReadExactlyAsync(body, cancellationToken).ConfigureAwait(false);
        return parser.ParseFrom(body);
    }

    public static Task WriteAsync(Stream stream, IMessage message, CancellationToken cancellationToken) =>
        stream.WriteAsync(Encode(message), cancellationToken).AsTask();
}
