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
    /// terminal). A file is written beside its name (FILE.partial) and renamed in at the end, so a failure leaves neither a
    /// partial archive nor the .partial file.
    /// </summary>
    /// <exception cref="UsageException">stdout is a terminal.</exception>
    /// <exception cref="IOException">The file cannot be made or written, or stdout closed (a broken pipe): the message says which.</exception>
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
        // A regular file (or nothing yet) is written beside its name and renamed in; anything else the user named (a
        // symbolic link such as /dev/stdout, a FIFO, a device) is written through, as docker save -o does: renaming over
        // it would replace the link or FIFO itself.
        var partial = path is null || !IsRegularOrMissing(path) ? null : path + ".partial";
        try
        {
            await using (var target = path is null ? StandardOutput() : partial is null ? Create(path, path) : Create(path, partial))
            {
                try
                {
                    await write(target);
                    await target.FlushAsync();
                }
                catch (IOException error)
                {
                    throw new IOException($"cannot write {path ?? "to stdout"}: {error.Message}", error);
                }
            }
            if (partial is not null)
            {
                File.Move(partial, path!, overwrite: true);
            }
        }
        finally
        {
            // File.Delete fails on a missing directory: the .partial may never have been made.
            if (partial is not null && File.Exists(partial))
            {
                File.Delete(partial);
            }
        }
    }

    /// <summary>Opens an archive berthctl sends (load, import).</summary>
    /// <exception cref="IOException">It cannot be opened; the message names it and says why.</exception>
    public static FileStream OpenRead(string path)
    {
        try
        {
            return File.OpenRead(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot open {path}: {Reason(error)}", error);
        }
    }

    /// <summary>
    /// stdout as a plain file stream: Console's own stream drops EPIPE silently, so `berthctl save | head -c 10` would
    /// report success; this one fails the write, and the command with it.
    /// </summary>
    private static FileStream StandardOutput() =>
        new(new Microsoft.Win32.SafeHandles.SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);

    /// <summary>Whether <paramref name="path"/> is a regular file, not a symbolic link, or nothing at all (lstat).</summary>
    private static bool IsRegularOrMissing(string path)
    {
        try
        {
            return Interop.Sys.TryLStatAt(Interop.Sys.AtFdCwd, path) is not { } status || status.Type == Interop.FileType.RegularFile;
        }
        catch (ErrnoException)
        {
            // A path that cannot be looked at (a missing or unreadable directory): the create below says why.
            return true;
        }
    }

    /// <summary>Opens <paramref name="file"/> for writing, truncated; errors name <paramref name="path"/>, the name the user gave.</summary>
    private static FileStream Create(string path, string file)
    {
        try
        {
            return new FileStream(file, FileMode.Create, FileAccess.Write);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot create {path}: {Reason(error)}", error);
        }
    }

    /// <summary>Why a file could not be opened, in a few words (.NET's messages name the path again, and the .partial one).</summary>
    private static string Reason(Exception error) => error switch
    {
        FileNotFoundException => "no such file",
        DirectoryNotFoundException => "its directory does not exist",
        UnauthorizedAccessException => "permission denied",
        _ => error.Message,
    };
}
