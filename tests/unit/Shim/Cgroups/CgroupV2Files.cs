namespace Berth.Tests.Unit.Shim.Cgroups;

/// <summary>
/// The cgroup v2 fixture description, Fixtures/cgroup-v2-files.txt: a non-root cgroup's files and what reading
/// each gives, the core files recorded from a real cgroup2 mount and the controller files from the kernel's
/// cgroup-v2.rst (the file says which is which). Tests lay trees out from it.
/// </summary>
internal static class CgroupV2Files
{
    /// <summary>The controllers a v2 node offers a pod's cgroups.</summary>
    public const string AllControllers = "cpuset cpu io memory hugetlb pids rdma misc";

    private static readonly Lazy<IReadOnlyList<(string Source, string File, string Content)>> s_entries = new(Read);

    /// <summary>The files a real cgroup2 child holds with no controller enabled (a hybrid node's tree, as recorded).</summary>
    public static IReadOnlyDictionary<string, string> Recorded => From("recorded");

    /// <summary>A leaf with every controller kubelet uses enabled: the recorded files, then the documented controller files.</summary>
    public static IReadOnlyDictionary<string, string> Leaf
    {
        get
        {
            var files = new Dictionary<string, string>(Recorded, StringComparer.Ordinal);
            foreach (var (file, content) in From("cgroup-v2.rst"))
            {
                files[file] = content;
            }
            files["cgroup.controllers"] = AllControllers + "\n";
            return files;
        }
    }

    /// <summary>Makes <paramref name="directory"/> and writes each file with its content.</summary>
    public static void Lay(string directory, IReadOnlyDictionary<string, string> files)
    {
        Directory.CreateDirectory(directory);
        foreach (var (file, content) in files)
        {
            File.WriteAllText(Path.Combine(directory, file), content);
        }
    }

    private static Dictionary<string, string> From(string source) =>
        s_entries.Value.Where(entry => entry.Source == source).ToDictionary(entry => entry.File, entry => entry.Content, StringComparer.Ordinal);

    private static IReadOnlyList<(string, string, string)> Read()
    {
        var entries = new List<(string, string, string)>();
        string source = "";
        foreach (string line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Shim", "Cgroups", "Fixtures", "cgroup-v2-files.txt")))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            if (line.StartsWith("@source ", StringComparison.Ordinal))
            {
                source = line["@source ".Length..line.IndexOf(':')];
                continue;
            }
            int tab = line.IndexOf('\t');
            entries.Add((source, line[..tab], line[(tab + 1)..].Replace("\\n", "\n")));
        }
        return entries;
    }
}
