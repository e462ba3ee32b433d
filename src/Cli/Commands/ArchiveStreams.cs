using Google.Protobuf;
using Grpc.Core;

namespace Berth.Cli.Commands;

/// <summary>How berthctl moves archives to and from berthd: streamed in 1 MiB chunks, written to a file atomically.</summary>
internal static class ArchiveStreams
{
    private const int ChunkBytes = 1 << 20;

    /// <summary>
    /// Streams <paramref name="source"/> to its end as the requests of a client-streaming call, each chunk wrapped by
    /// <paramref name="chunk"/>, and returns berthd's answer. berthd may refuse the archive before its end: the write
    /// then fails, and the answer (awaited last) says why.
    /// </summary>
    public static async Task<TResponse> UploadAsync<TRequest, TResponse>(AsyncClientStreamingCall<TRequest, TResponse> call, Stream source,
        Func<ByteString, TRequest> chunk, CancellationToken ct)
    {
        var buffer = new byte[ChunkBytes];
        try
        {
            int read;
            while ((read = await source.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct)) > 0)
            {
                await call.RequestStream.WriteAsync(chunk(ByteString.CopyFrom(buffer, 0, read)), ct);
            }
            await call.RequestStream.CompleteAsync();
        }
        catch (Exception error) when (error is RpcException or InvalidOperationException && !ct.IsCancellationRequested)
        {
            // Refused before the end: the answer below carries berthd's status.
        }
        return await call;
    }

    /// <summary>
    /// Runs <paramref name="write"/> into the file <paramref name="path"/>, or stdout when it is null or "-" (refused on a
    /// terminal). A file is written beside its name and renamed in at the end, so a failure leaves no partial archive.
    /// </summary>
    /// <exception cref="UsageException">stdout is a terminal.</exception>
    public static async Task DownloadAsync(string? path, Func<Stream, Task> write)
    {
        if (path == "-")
        {
            path = null;
        }
        if (path is null && !Console.IsOutputRedirected)
        {
            throw new UsageException("refusing to write an archive to a terminal: use -o FILE or redirect stdout");
        }
        var partial = path is null ? null : path + ".partial";
        try
        {
            await using (var target = partial is null ? Console.OpenStandardOutput() : new FileStream(partial, FileMode.Create, FileAccess.Write))
            {
                await write(target);
            }
            if (partial is not null)
            {
                File.Move(partial, path!, overwrite: true);
            }
        }
        finally
        {
            if (partial is not null)
            {
                File.Delete(partial);
            }
        }
    }
}
