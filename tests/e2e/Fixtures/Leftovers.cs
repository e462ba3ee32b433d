using System.Text;

namespace Berth.Tests.E2e.Fixtures;

/// <summary>
/// What a daemon can leave behind under its temporary directory when a test fails halfway:
/// shims and container processes, mounts, and its pods' cgroups. Everything here is found through that directory's
/// path, which is unique to one fixture, so it never touches another test's processes or mounts.
/// </summary>
internal static class Leftovers
{
    private static readonly TimeSpan ProcessExitTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// SIGKILLs every process that names <paramref name="directory"/> on its command line (shims get
    /// their bundle and socket paths there) or, living in another mount namespace, has a mount whose
    /// source or options name it (a container's rootfs overlay). Waits until they are gone.
    /// </summary>
    public static async Task KillProcessesUsingAsync(string directory)
    {
        var needle = directory.TrimEnd('/') + "/";
        var ownMountNamespace = ReadLink("/proc/self/ns/mnt");
        var victims = new List<int>();
        foreach (var pid in ProcessIds())
        {
            if (pid == Environment.ProcessId)
            {
                continue;
            }

            var commandLine = ReadText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            var usesDirectory = commandLine.Contains(needle, StringComparison.Ordinal)
                || (ReadLink($"/proc/{pid}/ns/mnt") is { } mountNamespace
                    && mountNamespace != ownMountNamespace
                    && ReadText($"/proc/{pid}/mountinfo").Contains(needle, StringComparison.Ordinal));
            if (usesDirectory)
            {
                LibC.Signal(pid, LibC.SIGKILL);
                victims.Add(pid);
            }
        }

        using var deadline = new CancellationTokenSource(ProcessExitTimeout);
        while (victims.Any(IsAlive) && !deadline.IsCancellationRequested)
        {
            await Task.Delay(20, CancellationToken.None);
        }
    }

    /// <summary>
    /// Where <paramref name="cgroupPath"/> is in every hierarchy: under the cgroup2 root, or under each
    /// cgroup file system mounted directly in /sys/fs/cgroup (read from mountinfo, not from a listing:
    /// a directory left on the tmpfs where no hierarchy is mounted is not one).
    /// </summary>
    public static IEnumerable<string> CgroupDirectories(string cgroupPath) =>
        File.Exists("/sys/fs/cgroup/cgroup.controllers")
            ? [Path.Combine("/sys/fs/cgroup", cgroupPath.TrimStart('/'))]
            : File.ReadLines("/proc/self/mountinfo")
                .Select(line => line.Split(' '))
                .Where(fields => fields[Array.IndexOf(fields, "-") + 1] is "cgroup" or "cgroup2"
                    && Path.GetDirectoryName(fields[4]) == "/sys/fs/cgroup")
                .Select(fields => Path.Combine(fields[4], cgroupPath.TrimStart('/')))
                .Distinct()
                .ToList();

    /// <summary>
    /// Removes, deepest first, every cgroup whose top-level name starts with <paramref name="prefix"/> in
    /// every hierarchy: the pod cgroups a test's pods got as parents (PodTestSupport names them after the
    /// daemon's temporary directory), which a test that failed before removing its pods leaves behind.
    /// Call it once the processes are killed; a cgroup that still holds one stays.
    /// </summary>
    public static void RemoveCgroupsNamed(string prefix)
    {
        foreach (string hierarchy in CgroupDirectories("/").Where(Directory.Exists))
        {
            foreach (string top in Directory.EnumerateDirectories(hierarchy, prefix + "*"))
            {
                foreach (string cgroup in Directory.EnumerateDirectories(top, "*", SearchOption.AllDirectories)
                    .OrderByDescending(path => path.Length).Append(top))
                {
                    try
                    {
                        Directory.Delete(cgroup);
                    }
                    catch (IOException)
                    {
                    }
                }
            }
        }
    }

    /// <summary>Detaches every mount at or below <paramref name="directory"/>, deepest first, until none is left.</summary>
    public static void UnmountEverythingUnder(string directory)
    {
        // Mounts stacked on one point come off one per pass; a bounded number of passes keeps a
        // mount that will not go from looping forever (the caller then refuses to delete).
        for (var pass = 0; pass < 10 && MountsUnder(directory) is { Count: > 0 } mounts; pass++)
        {
            foreach (var mountPoint in mounts.OrderByDescending(m => m.Length))
            {
                LibC.UnmountDetached(mountPoint);
            }
        }
    }

    /// <summary>Mount points at or below <paramref name="directory"/> in this process's mount namespace.</summary>
    public static IReadOnlyList<string> MountsUnder(string directory)
    {
        var root = directory.TrimEnd('/');
        return
        [
            .. from line in File.ReadLines("/proc/self/mountinfo")
               let mountPoint = Unescape(line.Split(' ')[4])
               where mountPoint == root || mountPoint.StartsWith(root + "/", StringComparison.Ordinal)
               select mountPoint,
        ];
    }

    /// <summary>mountinfo writes space, tab, newline and backslash in paths as \ooo octal escapes.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\'))
        {
            return field;
        }

        var bytes = new List<byte>();
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length)
            {
                bytes.Add(Convert.ToByte(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static IEnumerable<int> ProcessIds() =>
        from path in Directory.EnumerateDirectories("/proc")
        let name = Path.GetFileName(path)
        where int.TryParse(name, out _)
        select int.Parse(name);

    /// <summary>Alive means not gone and not a zombie waiting for a parent that is not us.</summary>
    private static bool IsAlive(int pid)
    {
        var stat = ReadText($"/proc/{pid}/stat");
        var afterCommand = stat.LastIndexOf(')');
        return afterCommand > 0 && afterCommand + 2 < stat.Length && stat[afterCommand + 2] != 'Z';
    }

    /// <summary>A process can end between listing /proc and reading it: that reads as empty.</summary>
    private static string ReadText(string path)
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

    private static string? ReadLink(string path)
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
