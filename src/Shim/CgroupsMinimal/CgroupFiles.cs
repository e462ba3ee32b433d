namespace Berth.Shim.CgroupsMinimal;

/// <summary>Reads and writes cgroup control files with errno-precise failures.</summary>
internal static class CgroupFiles
{
    public static void Write(string path, string value)
    {
        int fd = Interop.Sys.Open(path, Interop.Sys.O_WRONLY);
        try
        {
            try
            {
                Interop.Sys.WriteAll(fd, System.Text.Encoding.ASCII.GetBytes(value));
            }
            catch (ErrnoException e)
            {
                throw new ErrnoException(e.Error, "write", $"{path} ({value})");
            }
        }
        finally
        {
            Interop.Sys.Close(fd);
        }
    }

    public static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static ulong ReadUInt64(string path)
    {
        string? text = TryRead(path)?.Trim();
        return text is not null && ulong.TryParse(text, out ulong value) ? value : 0;
    }

    /// <summary>A "key value" line's value in a flat-keyed file (memory.stat, memory.events, memory.oom_control).</summary>
    public static ulong ReadKey(string path, string key)
    {
        string? text = TryRead(path);
        if (text is null)
        {
            return 0;
        }
        foreach (string line in text.Split('\n'))
        {
            int space = line.IndexOf(' ');
            if (space == key.Length && line.StartsWith(key, StringComparison.Ordinal) && ulong.TryParse(line.AsSpan(space + 1), out ulong value))
            {
                return value;
            }
        }
        return 0;
    }

    public static IReadOnlyList<int> ReadPids(string path)
    {
        var pids = new List<int>();
        string? text = TryRead(path);
        if (text is null)
        {
            return pids;
        }
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (int.TryParse(line, out int pid))
            {
                pids.Add(pid);
            }
        }
        return pids;
    }

    /// <summary>rmdir with retries: a cgroup stays busy for a moment after its last task exits.</summary>
    public static void RemoveDirectory(string path)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                Directory.Delete(path);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException) when (attempt < 100)
            {
                Thread.Sleep(10);
            }
        }
    }

    /// <summary>The cgroup mounts of this mount namespace: (mount point, file system type, super options).</summary>
    public static List<(string MountPoint, string Type, string Options)> Mounts()
    {
        var mounts = new List<(string, string, string)>();
        foreach (string line in File.ReadAllLines("/proc/self/mountinfo"))
        {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            int separator = line.IndexOf(" - ", StringComparison.Ordinal);
            if (separator < 0)
            {
                continue;
            }
            string[] head = line[..separator].Split(' ');
            string[] tail = line[(separator + 3)..].Split(' ');
            if (head.Length < 5 || tail.Length < 3 || !tail[0].StartsWith("cgroup", StringComparison.Ordinal))
            {
                continue;
            }
            mounts.Add((head[4].Replace("\\040", " "), tail[0], tail[2]));
        }
        return mounts;
    }
}
