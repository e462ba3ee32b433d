using System.Buffers;
using Berth.RuntimeService.Hosting.AuthorityRewrite;
using static Berth.Tests.Unit.Hosting.AuthorityRewrite.HpackBlock;

namespace Berth.Tests.Unit.Hosting.AuthorityRewrite;

/// <summary>
/// The forwarder's work, counted in bytes it handles rather than timed: it must stay a constant multiple of the
/// bytes received however the client cuts its header block into frames and reads.
/// </summary>
public sealed class Http2FrameForwarderTests
{
    private const string SocketPath = "/run/berth/berth.sock";
    private const string Rewritten = "-run-berth-berth.sock";

    // Every input byte once, the copies of a doubling buffer (less than the block), the rewrite pass (the block).
    private const int MostWorkPerReceivedByte = 3;

    [Theory]
    [InlineData(0, 9)] // a trickle of empty CONTINUATIONs, one frame a read: the case that was quadratic
    [InlineData(0, 1)] // the same, one byte a read
    [InlineData(3, 5)] // reads that cut frame headers and fragments anywhere
    [InlineData(16 * 1024, 4096)] // few large CONTINUATIONs
    public void WorkPerReceivedByteStaysFlatWhileAHeaderBlockIsHeldUpToTheLimit(int fragmentLength, int readLength)
    {
        using var forwarder = new Http2FrameForwarder();
        var output = new ArrayBufferWriter<byte>();
        var sent = new List<byte>();
        long worstRatioPercent = 0;
        void Send(byte[] bytes)
        {
            sent.AddRange(bytes);
            for (int at = 0; at < bytes.Length; at += readLength)
            {
                forwarder.Forward(new ReadOnlySequence<byte>(bytes, at, Math.Min(readLength, bytes.Length - at)), output);
                worstRatioPercent = Math.Max(worstRatioPercent, 100 * forwarder.BytesExamined / sent.Count);
            }
        }
        // Fragments of 0x82, an indexed field (":method: GET") each, keep the block valid HPACK however it is cut.
        byte[] fragment = new byte[fragmentLength];
        fragment.AsSpan().Fill(0x82);
        byte[] continuation = Http2Frames.Frame(Http2Frames.Continuation, 0, 1, fragment);
        byte[] block = new HpackBlock().Indexed(3).Literal(Indexing.Incremental, 1, SocketPath, huffman: true).ToArray();
        byte[] opening = [.. Http2Frames.Preface, .. Http2Frames.Frame(Http2Frames.Headers, 0, 1, block)];
        int frames = (Http2FrameForwarder.MaxHeldHeaderBlock - opening.Length) / continuation.Length - 1;

        Send(opening);
        for (int frame = 0; frame < frames; frame++)
        {
            Send(continuation);
        }
        Assert.Equal(Http2Frames.Preface.Length, output.WrittenCount);
        Send(Http2Frames.Frame(Http2Frames.Continuation, Http2Frames.EndHeaders, 1, []));

        Assert.Equal(sent.Count, output.WrittenCount);
        Assert.True(worstRatioPercent <= 100 * MostWorkPerReceivedByte,
            $"{worstRatioPercent / 100.0:F2} bytes examined per byte received");
        Assert.True(forwarder.HasRewrittenAuthority);
        Assert.True(output.WrittenSpan.IndexOf(TestHuffman.Encode(Rewritten)) > 0);
    }
}
