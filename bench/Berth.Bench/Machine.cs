using System.Text.Json.Nodes;

namespace Berth.Bench;

public static class Machine
{
    public static JsonObject Describe()
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "";
        var memKb = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        return new JsonObject
        {
            ["hostname"] = Environment.MachineName,
            ["kernel"] = File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
            ["cpu"] = cpu,
            ["cpus"] = Environment.ProcessorCount,
            ["memory_gib"] = Math.Round(long.Parse(memKb) / 1024.0 / 1024.0, 1),
            ["cgroup"] = File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "v2" : "v1",
            ["loadavg_start"] = File.ReadAllText("/proc/loadavg").Trim(),
        };
    }
}

public static class Cleanup
{
    /// <summary>
    /// The benchmark's pods live in cgroups under /ROOT/RUNTIME/POD, which neither runtime removes
    /// entirely (containerd leaves the parents it did not make): rmdir the tree, deepest first.
    /// </summary>
    public static void RemoveCgroups(string root)
    {
        var hierarchies = File.Exists("/sys/fs/cgroup/cgroup.controllers")
            ? ["/sys/fs/cgroup"]
            : Directory.EnumerateDirectories("/sys/fs/cgroup").Where(h => new DirectoryInfo(h).LinkTarget is null).ToList();
        foreach (var hierarchy in hierarchies)
        {
            var top = Path.Combine(hierarchy, root);
            if (!Directory.Exists(top))
            {
                continue;
            }

            foreach (var directory in Directory.EnumerateDirectories(top, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length).Append(top))
            {
                try
                {
                    Directory.Delete(directory, recursive: false);
                }
                catch (IOException e)
                {
                    Console.Error.WriteLine($"[bench] cgroup {directory} stays: {e.Message}");
                }
            }
        }
    }
}
