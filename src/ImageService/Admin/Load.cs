using Grpc.Core;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

public sealed partial class AdminImageService
{
    public override async Task<AdminApi.LoadResponse> Load(IAsyncStreamReader<AdminApi.LoadChunk> requestStream, ServerCallContext context)
    {
        await using var archive = new ChunkReadStream(requestStream);
        var loaded = await images.LoadAsync(archive, context.CancellationToken);
        var response = new AdminApi.LoadResponse();
        response.Images.AddRange(loaded.Select(Summary));
        return response;
    }

    /// <summary>The archive's chunks, in order, as one read-only stream: the archive is read as it arrives.</summary>
    private sealed class ChunkReadStream(IAsyncStreamReader<AdminApi.LoadChunk> chunks) : Stream
    {
        private ReadOnlyMemory<byte> _current;
        private bool _ended;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (_current.IsEmpty && !_ended)
            {
                if (await chunks.MoveNext(cancellationToken))
                {
                    _current = chunks.Current.Data.Memory;
                }
                else
                {
                    _ended = true;
                }
            }
            var count = Math.Min(buffer.Length, _current.Length);
            _current[..count].CopyTo(buffer);
            _current = _current[count..];
            return count;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        // berthd is async all the way: the tar reader is only ever driven through ReadAsync.
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("read the archive asynchronously");

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
