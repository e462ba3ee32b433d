namespace Berth.ImageService.Images;

/// <summary>Bytes and inodes a directory tree takes, counting each hard-linked inode once.</summary>
public static class DiskUsage
{
    public static (long Bytes, long Inodes) Measure(string directory)
    {
        var seen = new HashSet<(ulong Device, ulong Inode)>();
        long bytes = 0;
        var pending = new Stack<string>();
        pending.Push(directory);
        while (pending.TryPop(out var current))
        {
            var status = Interop.Sys.LStat(current);
            if (!seen.Add((status.Device, status.Inode)))
            {
                continue;
            }
            bytes += status.AllocatedBytes;
            if (status.Type == Interop.FileType.Directory)
            {
                foreach (var entry in Directory.EnumerateFileSystemEntries(current))
                {
                    pending.Push(entry);
                }
            }
        }
        return (bytes, seen.Count);
    }
}
