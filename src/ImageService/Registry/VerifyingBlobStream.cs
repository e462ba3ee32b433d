using System.Security.Cryptography;

namespace Berth.ImageService.Registry;

/// <summary>
/// A blob's content as it arrives: hashed while read, and checked against the descriptor when the
/// stream ends, so nothing unverified passes the end of stream. Read it to the end (a reader that
/// stops early, such as a tar reader at its trailer, must drain the rest) before trusting what it
/// gave. Reads are asynchronous only: a read that gets no byte for the stall timeout fails.
/// </summary>
internal sealed class VerifyingBlobStream(Stream content, Descriptor blob, TimeSpan stallTimeout, IDisposable? owner = null) : Stream
{
    private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long received;
    private string? actualDigest;
    private bool verified;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => blob.Size;

    public override long Position
    {
        get => received;
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (verified || buffer.IsEmpty)
        {
            return 0;
        }
        int read;
        using (var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            stall.CancelAfter(stallTimeout);
            try
            {
                read = await content.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new RegistryException(RegistryErrorKind.Stalled,
                    $"blob {blob.Digest}: no data for {stallTimeout.TotalSeconds:0.#} s after {received} of {blob.Size} bytes", e);
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                throw new RegistryException(RegistryErrorKind.Unavailable,
                    $"blob {blob.Digest}: connection lost after {received} of {blob.Size} bytes: {e.Message}", e);
            }
        }
        if (read == 0)
        {
            Verify();
            return 0;
        }
        received += read;
        if (received > blob.Size)
        {
            throw new RegistryException(RegistryErrorKind.DigestMismatch,
                $"blob {blob.Digest} is longer than the {blob.Size} bytes its descriptor gives");
        }
        hash.AppendData(buffer.Span[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void Verify()
    {
        if (received != blob.Size)
        {
            throw new RegistryException(RegistryErrorKind.DigestMismatch,
                $"blob {blob.Digest} ended after {received} of the {blob.Size} bytes its descriptor gives");
        }
        actualDigest ??= Sha256Digest.Of(hash);
        if (actualDigest != blob.Digest)
        {
            throw new RegistryException(RegistryErrorKind.DigestMismatch, $"blob {blob.Digest} arrived with digest {actualDigest}");
        }
        verified = true;
    }

    // Synchronous reads could block past the stall timeout and the caller's cancellation.
    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("a registry blob stream is read asynchronously (ReadAsync, CopyToAsync)");

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            content.Dispose();
            owner?.Dispose();
            hash.Dispose();
        }
        base.Dispose(disposing);
    }
}
