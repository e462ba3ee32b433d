namespace Berth.Api.Shim;

/// <summary>Crash-safe file replacement: temporary file in the same directory, fsync, rename, fsync of the directory.</summary>
public static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? "/";
        string temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, full, overwrite: true);
        try
        {
            using var dir = File.OpenHandle(directory, FileMode.Open, FileAccess.Read);
            RandomAccess.FlushToDisk(dir);
        }
        catch (IOException)
        {
            // Some filesystems refuse fsync on a directory; the rename itself is already atomic.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
