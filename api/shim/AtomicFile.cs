namespace Berth.Api.Shim;

/// <summary>Crash-safe file replacement: temporary file in the same directory, fsync, rename, fsync of the directory.</summary>
public static class AtomicFile
{
    /// <param name="durable">
    /// True (the default): fsync the file before the rename and the directory after it, so the new content
    /// survives a power cut. False: the rename alone, which readers and a crash of the writer never see torn,
    /// for a record that something durable supersedes within milliseconds (a power cut may keep the previous
    /// content, or leave an empty file where there was none). An fsync costs tens of milliseconds on busy disks.
    /// </param>
    public static void Write(string path, ReadOnlySpan<byte> content, bool durable = true)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? "/";
        string temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: durable);
        }
        File.Move(temporary, full, overwrite: true);
        if (!durable)
        {
            return;
        }
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
