using System.Buffers.Binary;
using Berth.Api.Streaming.Spdy;
using ICSharpCode.SharpZipLib.Checksum;

namespace Berth.Tests.Unit.Streaming;

public sealed class SpdyFramingTests
{
    [Fact]
    public void TheDictionaryIsTheSpecsByLengthAndAdler32()
    {
        byte[] dictionary = SpdyDictionary.Create();
        var adler = new Adler32();
        adler.Update(dictionary);

        Assert.Equal(1423, dictionary.Length);
        Assert.Equal(0xe3c6a7c2, adler.Value);
    }

    [Fact]
    public void CrictlsFramesParseAndItsHeaderBlocksInflateInOrder()
    {
        var frames = Split(RecordedSession.CrictlFrames);
        var decompressor = new SpdyHeaderDecompressor();

        var types = new List<(uint Id, string Type)>();
        foreach (var (header, payload) in frames.Where(frame => frame.Header.Type == SpdyFrameType.SynStream))
        {
            Assert.Equal(SpdyFrameHeader.Version3, header.Version);
            var (id, offset) = SpdyControlFrames.ReadStreamId(payload, header.Type);
            var headers = SpdyHeaderBlock.Decode(decompressor.Decompress(payload.AsSpan(offset)));
            types.Add((id, headers["streamtype"]));
        }

        Assert.Equal([(1u, "error"), (3u, "stdin"), (5u, "stdout"), (7u, "stderr")], types);
        var data = frames.Where(frame => frame.Header.Type == SpdyFrameType.Data).ToList();
        Assert.Equal(3u, data[0].Header.StreamId);
        Assert.Equal("hi\n"u8.ToArray(), data[0].Payload);
        Assert.True(data[1].Header.HasFin);
        Assert.Empty(data[1].Payload);
        var (resetId, status) = SpdyControlFrames.ReadTwoWords(frames[^1].Payload, SpdyFrameType.RstStream);
        Assert.Equal((7u, (uint)SpdyRstStatus.Cancel), (resetId, status));
    }

    [Fact]
    public void HeaderBlocksRoundTripThroughOneCompressorAndOneDecompressor()
    {
        var compressor = new SpdyHeaderCompressor();
        var decompressor = new SpdyHeaderDecompressor();
        for (int i = 0; i < 50; i++)
        {
            var sent = new Dictionary<string, string> { ["streamType"] = "data", ["port"] = $"{8000 + i}", ["requestID"] = $"{i}" };
            byte[] compressed = compressor.Compress(SpdyHeaderBlock.Encode(sent));
            var received = SpdyHeaderBlock.Decode(decompressor.Decompress(compressed));
            // Names travel lowercase, as Go's spdystream requires.
            Assert.Equal(sent.Keys.Select(k => k.ToLowerInvariant()).Order(), received.Keys.Order());
            Assert.Equal($"{8000 + i}", received["port"]);
        }
    }

    [Fact]
    public void EveryCompressedBlockEndsOnAByteBoundaryWithTheSyncFlushMarker()
    {
        var compressor = new SpdyHeaderCompressor();
        byte[] first = compressor.Compress(SpdyHeaderBlock.Encode([]));
        byte[] second = compressor.Compress(SpdyHeaderBlock.Encode([new("streamtype", "stdout")]));

        // zlib header naming the dictionary (FDICT and its Adler-32), then stored blocks and an empty one.
        Assert.Equal(0x78, first[0]);
        Assert.Equal(0x20, first[1] & 0x20);
        Assert.Equal(0xe3c6a7c2u, BinaryPrimitives.ReadUInt32BigEndian(first.AsSpan(2)));
        Assert.Equal([0x00, 0x00, 0xff, 0xff], first[^4..]);
        Assert.Equal([0x00, 0x00, 0xff, 0xff], second[^4..]);
    }

    [Fact]
    public void ControlFramesAreWrittenAsTheSpecLaysThemOut()
    {
        byte[] reset = SpdyControlFrames.RstStream(7, SpdyRstStatus.Cancel);
        Assert.Equal(Convert.FromHexString("80030003000000080000000700000005"), reset);
        Assert.Equal(Convert.FromHexString("80030007000000080000000900000000"), SpdyControlFrames.GoAway(9, SpdyGoAwayStatus.Ok));
        Assert.Equal(Convert.FromHexString("800300090000000800000003" + "00008000"), SpdyControlFrames.WindowUpdate(3, 32768));
        Assert.Equal(Convert.FromHexString("800300060000000400000002"), SpdyControlFrames.Ping(2));
        byte[] settings = SpdyControlFrames.Settings((SpdySettings.InitialWindowSize, 65536));
        Assert.Equal(Convert.FromHexString("800300040000000c" + "00000001" + "00000007" + "00010000"), settings);
        Assert.Equal([(7u, 65536u)], SpdyControlFrames.ReadSettings(settings.AsSpan(8)));

        byte[] data = new byte[8];
        SpdyFrameHeader.WriteData(data, 5, SpdyFlags.Fin, 3);
        var header = SpdyFrameHeader.Read(data);
        Assert.Equal((SpdyFrameType.Data, 5u, true, 3), (header.Type, header.StreamId, header.HasFin, header.Length));
    }

    [Theory]
    [InlineData("00000001")]
    [InlineData("00000002000000070000000800000000")]
    public void MalformedSettingsAreRefused(string payload) =>
        Assert.Throws<SpdyProtocolException>(() => SpdyControlFrames.ReadSettings(Convert.FromHexString(payload)));

    [Fact]
    public void MalformedHeaderBlocksAreRefused()
    {
        Assert.Throws<SpdyProtocolException>(() => SpdyHeaderBlock.Decode(Convert.FromHexString("00000001000000ff")));
        byte[] repeated = SpdyHeaderBlock.Encode([new("a", "1")]);
        BinaryPrimitives.WriteUInt32BigEndian(repeated, 2);
        Assert.Throws<SpdyProtocolException>(() => SpdyHeaderBlock.Decode([.. repeated, .. repeated.AsSpan(4)]));
        Assert.Throws<SpdyProtocolException>(() => new SpdyHeaderDecompressor().Decompress(Convert.FromHexString("78f9e3c6a7c2ffffffff")));
    }

    private static List<(SpdyFrameHeader Header, byte[] Payload)> Split(byte[] bytes)
    {
        var frames = new List<(SpdyFrameHeader, byte[])>();
        for (int offset = 0; offset < bytes.Length;)
        {
            var header = SpdyFrameHeader.Read(bytes.AsSpan(offset));
            frames.Add((header, bytes.AsSpan(offset + SpdyFrameHeader.Size, header.Length).ToArray()));
            offset += SpdyFrameHeader.Size + header.Length;
        }
        return frames;
    }
}
