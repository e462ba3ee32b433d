using Berth.Core.Cri;
using Grpc.Core;

namespace Berth.Core.Cri;

/// <summary>The Stream* list calls: the items of the matching List call, a chunk per message.</summary>
public static class ChunkedStream
{
    // Keeps each message far below gRPC's 4 MiB default limit.
    private const int ChunkSize = 256;

    public static async Task WriteAsync<TItem, TResponse>(
        IEnumerable<TItem> items, Func<IEnumerable<TItem>, TResponse> toResponse, IServerStreamWriter<TResponse> stream, CancellationToken ct)
    {
        foreach (var chunk in items.Chunk(ChunkSize))
        {
            await stream.WriteAsync(toResponse(chunk), ct);
        }
    }
}
