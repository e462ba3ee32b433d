using Berth.Api.Shim;
using Google.Protobuf;
using Xunit;

namespace Berth.Shim.Tests.Unit;

public sealed class ShimFramingTests
{
    [Fact]
    public void FrameIsBigEndianLengthThenMessage()
    {
        var request = new Request { Kill = new KillRequest { Signal = 15, All = true } };
        byte[] frame = ShimFraming.Encode(request);
        int size = request.CalculateSize();
        Assert.Equal(4 + size, frame.Length);
        Assert.Equal([0, 0, 0, (byte)size], frame[..4]);
        Assert.Equal(request, Request.Parser.ParseFrom(frame.AsSpan(4)));
    }

    [Fact]
    public void TryDecodeWaitsForCompleteFrames()
    {
        var first = new Request { ExecSync = new ExecSyncRequest { Args = { "sh", "-c", "true" }, TimeoutMs = 5, Uid = 0 } };
        var second = new Request { State = new StateRequest() };
        byte[] stream = [.. ShimFraming.Encode(first), .. ShimFraming.Encode(second)];
        for (int cut = 0; cut < ShimFraming.Encode(first).Length; cut++)
        {
            Assert.False(ShimFraming.TryDecode(stream.AsSpan(0, cut), Request.Parser, out _, out _));
        }
        Assert.True(ShimFraming.TryDecode(stream, Request.Parser, out Request? one, out int used));
        Assert.Equal(first, one);
        Assert.True(one!.ExecSync.HasUid);
        Assert.True(ShimFraming.TryDecode(stream.AsSpan(used), Request.Parser, out Request? two, out int used2));
        Assert.Equal(second, two);
        Assert.Equal(stream.Length, used + used2);
    }

    [Fact]
    public void OversizedFramesAreRefused()
    {
        byte[] header = [0x7f, 0xff, 0xff, 0xff];
        Assert.Throws<InvalidDataException>(() => ShimFraming.ReadHeader(header));
        Assert.Throws<InvalidDataException>(() => ShimFraming.WriteHeader(new byte[4], ShimFraming.MaxFrameLength + 1));
    }

    [Fact]
    public async Task StreamHelpersRoundTrip()
    {
        var stream = new MemoryStream();
        var response = new Response { State = new StateResponse { Id = "c1", Status = Status.Exited, ExitCode = 137, Reason = "OOMKilled" } };
        await ShimFraming.WriteAsync(stream, response, CancellationToken.None);
        await ShimFraming.WriteAsync(stream, new Response { Code = ErrorCode.CreateFailed, Error = "boom" }, CancellationToken.None);
        stream.Position = 0;
        Assert.Equal(response, await ShimFraming.ReadAsync(stream, Response.Parser, CancellationToken.None));
        Assert.Equal("boom", (await ShimFraming.ReadAsync(stream, Response.Parser, CancellationToken.None))!.Error);
        Assert.Null(await ShimFraming.ReadAsync(stream, Response.Parser, CancellationToken.None));

        var truncated = new MemoryStream(ShimFraming.Encode(response)[..6]);
        await Assert.ThrowsAsync<EndOfStreamException>(() => ShimFraming.ReadAsync(truncated, Response.Parser, CancellationToken.None));
        Assert.IsAssignableFrom<IMessage>(response);
    }
}
