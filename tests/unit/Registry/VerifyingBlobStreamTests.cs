using System.IO.Pipelines;
using System.Security.Cryptography;
using Berth.ImageService.Registry;

namespace Berth.Tests.Unit.Registry;

public sealed class VerifyingBlobStreamTests
{
    private static readonly byte[] Content = RandomNumberGenerator.GetBytes(100_000);
    private static readonly Descriptor Blob = new("application/octet-stream", TestImage.DigestOf(Content), Content.Length);
    private static readonly TimeSpan NoStall = TimeSpan.FromMinutes(1);

    private static async Task<byte[]> ReadToEndAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, 4096);
        return copy.ToArray();
    }

    [Fact]
    public async Task PassesContentThatMatchesItsDescriptor()
    {
        await using var stream = new VerifyingBlobStream(new MemoryStream(Content), Blob, NoStall);

        Assert.Equal(Content, await ReadToEndAsync(stream));
        Assert.Equal(0, await stream.ReadAsync(new byte[10])); // ended and verified: stays ended
    }

    [Fact]
    public async Task FailsAtTheEndWhenTheDigestDiffers()
    {
        var tampered = Content.ToArray();
        tampered[500] ^= 1;
        await using var stream = new VerifyingBlobStream(new MemoryStream(tampered), Blob, NoStall);

        var error = await Assert.ThrowsAsync<RegistryException>(() => ReadToEndAsync(stream));

        Assert.Equal(RegistryErrorKind.DigestMismatch, error.Reason);
        Assert.Contains($"arrived with digest {TestImage.DigestOf(tampered)}", error.Message);
        Assert.Equal(RegistryErrorKind.DigestMismatch, (await Assert.ThrowsAsync<RegistryException>(() => stream.ReadAsync(new byte[1]).AsTask())).Reason);
    }

    [Fact]
    public async Task FailsWhenTheContentIsShort()
    {
        await using var stream = new VerifyingBlobStream(new MemoryStream(Content[..^1]), Blob, NoStall);

        var error = await Assert.ThrowsAsync<RegistryException>(() => ReadToEndAsync(stream));

        Assert.Equal(RegistryErrorKind.DigestMismatch, error.Reason);
        Assert.Contains($"ended after {Content.Length - 1} of the {Content.Length} bytes", error.Message);
    }

    [Fact]
    public async Task FailsAsSoonAsTheContentRunsLong()
    {
        var source = new MemoryStream([.. Content, .. new byte[50_000]]);
        await using var stream = new VerifyingBlobStream(source, Blob, NoStall);

        var error = await Assert.ThrowsAsync<RegistryException>(() => ReadToEndAsync(stream));

        Assert.Equal(RegistryErrorKind.DigestMismatch, error.Reason);
        Assert.Contains("longer than the 100000 bytes", error.Message);
        Assert.True(source.Position < source.Length, "it stopped reading before the end of the oversized content");
    }

    [Fact]
    public async Task FailsWhenNoByteArrivesForTheStallTimeout()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Content.AsMemory(0, 1000));
        await using var stream = new VerifyingBlobStream(pipe.Reader.AsStream(), Blob, TimeSpan.FromMilliseconds(200));

        var error = await Assert.ThrowsAsync<RegistryException>(() => ReadToEndAsync(stream));

        Assert.Equal(RegistryErrorKind.Stalled, error.Reason);
        Assert.Contains("no data for 0.2 s after 1000 of 100000 bytes", error.Message);
    }

    [Fact]
    public async Task HonoursTheCallersCancellation()
    {
        var pipe = new Pipe();
        await using var stream = new VerifyingBlobStream(pipe.Reader.AsStream(), Blob, NoStall);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.ReadAsync(new byte[10], cancellation.Token).AsTask());
    }

    [Fact]
    public void RefusesSynchronousReads()
    {
        using var stream = new VerifyingBlobStream(new MemoryStream(Content), Blob, NoStall);

        Assert.Throws<NotSupportedException>(() => stream.ReadExactly(new byte[10]));
    }
}
