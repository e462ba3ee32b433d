using System.Buffers.Binary;

namespace Berth.RuntimeService.Hosting.AuthorityRewrite;

/// <summary>The 9-byte HTTP/2 frame header (RFC 9113 section 4.1), as far as the rewriter cares.</summary>
internal readonly record struct Http2FrameHeader(int Length, byte Type, byte Flags)
{
    public const int Size = 9;
    public const byte Headers = 0x1;
    public const byte Continuation = 0x9;

    public bool EndsHeaders => (Flags & 0x4) != 0;

    public bool IsPadded => (Flags & 0x8) != 0;

    public bool HasPriority => (Flags & 0x20) != 0;

    public static Http2FrameHeader Read(ReadOnlySpan<byte> bytes) =>
        new((bytes[0] << 16) | BinaryPrimitives.ReadUInt16BigEndian(bytes[1..]), bytes[3], bytes[4]);
}
