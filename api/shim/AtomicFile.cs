namespace Berth.Api.Shim;

/// <summary>Crash-safe file replacement: temporary file in the same directory, fsync, rename, fsync of the directory.</summary>
public static class AtomicFile
{
    /// <summary>How much of a write survives a power cut; every level is atomic for readers and against a crash of the writer.</summary>
    public enum Durability
    {
        /// <summary>The rename alone: a power cut may keep the previous content, or leave an empty file where there was none.</summary>
        None,

        /// <summary>fsync of the file before the rename: after a power cut the name holds the new content or the previous one, never a torn or empty file.</summary>
        Content,

        /// <summary>fsync of the file, then of the directory after the rename: the new content survives a power cut.</summary>
        Full,
    }

    /// <param name="durability">
    /// What a power cut may undo (<see cref="Durability"/>); each fsync costs tens of milliseconds on a busy disk,
    /// so a record that a later write supersedes, or whose previous content is good enough, may ask for less.
    /// </param>
    public static void Write(string path, ReadOnlySpan<byte> content, Durability durability = Durability.Full)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? "/";
        string temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: durability != Durability.None);
        }
        File.Move(temporary, full, overwrite: true);
        if (durability != Durability.Full)
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
