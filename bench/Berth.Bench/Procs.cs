namespace Berth.Bench;

/// <summary>One process as /proc shows it at the moment of reading.</summary>
public sealed record ProcessInfo(int Pid, int ParentPid, string Comm, string Exe, string CommandLine);

/// <summary>Reads /proc: the process table, and memory figures of one process (KiB).</summary>
public static class Procs
{
    public static IReadOnlyList<ProcessInfo> Snapshot()
    {
        var list = new List<ProcessInfo>();
        foreach (var path in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(path), out var pid))
            {
                continue;
            }

            var stat = Read($"{path}/stat");
            var close = stat.LastIndexOf(')');
            var open = stat.IndexOf('(');
            if (close < 0 || open < 0)
            {
                continue;
            }

            var fields = stat[(close + 2)..].Split(' ');
            if (fields.Length < 2 || fields[0] == "Z" || !int.TryParse(fields[1], out var parent))
            {
                continue;
            }

            list.Add(new ProcessInfo(pid, parent, stat[(open + 1)..close], Link($"{path}/exe") ?? "", Read($"{path}/cmdline").Replace('\0', ' ').Trim()));
        }

        return list;
    }

    /// <summary>The processes of <paramref name="roots"/> and all their descendants.</summary>
    public static IReadOnlyList<ProcessInfo> WithDescendants(IReadOnlyList<ProcessInfo> table, IEnumerable<int> roots)
    {
        var children = table.ToLookup(p => p.ParentPid);
        var byPid = table.ToDictionary(p => p.Pid);
        var seen = new HashSet<int>();
        var queue = new Queue<int>(roots);
        var result = new List<ProcessInfo>();
        while (queue.TryDequeue(out var pid))
        {
            if (!seen.Add(pid) || !byPid.TryGetValue(pid, out var info))
            {
                continue;
            }

            result.Add(info);
            foreach (var child in children[pid])
            {
                queue.Enqueue(child.Pid);
            }
        }

        return result;
    }

    /// <summary>
    /// CPU time a process has used, seconds: utime + stime of /proc/PID/stat (fields 14 and 15), in clock
    /// ticks of USER_HZ, which Linux fixes at 100 for user space whatever the kernel's HZ.
    /// </summary>
    public static double CpuSeconds(int pid) => Ticks(pid, withReapedChildren: false) / 100.0;

    /// <summary>
    /// <see cref="CpuSeconds"/> plus cutime + cstime (fields 16 and 17): the CPU of every child the
    /// process has waited for, with what those children had themselves reaped. Seconds.
    /// </summary>
    public static double CpuSecondsWithReapedChildren(int pid) => Ticks(pid, withReapedChildren: true) / 100.0;

    private static long Ticks(int pid, bool withReapedChildren)
    {
        var stat = Read($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11]) + long.Parse(fields[12]);
        return withReapedChildren ? ticks + long.Parse(fields[13]) + long.Parse(fields[14]) : ticks;
    }

    public static long RssKb(int pid) => Field($"/proc/{pid}/status", "VmRSS:");

    public static long PssKb(int pid) => Field($"/proc/{pid}/smaps_rollup", "Pss:");

    public static long RollupRssKb(int pid) => Field($"/proc/{pid}/smaps_rollup", "Rss:");

    private static long Field(string path, string name)
    {
        foreach (var line in Read(path).Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal))
            {
                var parts = line[name.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return parts.Length > 0 && long.TryParse(parts[0], out var value) ? value : 0;
            }
        }

        return 0;
    }

    public static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static string? Link(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
