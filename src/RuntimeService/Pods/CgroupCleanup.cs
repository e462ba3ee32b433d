using System.Diagnostics;

namespace Berth.RuntimeService.Pods;

/// <summary>
/// The daemon's last resort for cgroups whose shim is gone (killed, or lost to a reboot): kill what is
/// still inside and remove the cgroup from every hierarchy, so nothing leaks. Live shims delete their own.
/// </summary>
public static class CgroupCleanup
{
    private const string CgroupRoot = "/sys/fs/cgroup";

    /// <summary>Every directory this cgroup path has: one on cgroup v2, one per mounted hierarchy on v1.</summary>
    public static IEnumerable<string> Directories(string cgroupPath)
    {
        var relative = cgroupPath.TrimStart('/');
        if (relative.Length == 0 || relative.Split('/').Contains(".."))
        {
            return [];
        }
        if (File.Exists(Path.Combine(CgroupRoot, "cgroup.controllers")))
        {
            return [Path.Combine(CgroupRoot, relative)];
        }
        return Directory.EnumerateDirectories(CgroupRoot)
            .Where(hierarchy => new DirectoryInfo(hierarchy).LinkTarget is null)
            .Select(hierarchy => Path.Combine(hierarchy, relative));
    }

    /// <summary>SIGKILLs every process in the cgroup and its children, then removes them, deepest first.</summary>
    public static async Task KillAndRemoveAsync(string cgroupPath)
    {
        foreach (var directory in Directories(cgroupPath).Where(Directory.Exists))
        {
            var tree = Directory.EnumerateDirectories(directory, "*", SearchOption.AllDirectories)
                .OrderByDescending(path => path.Length)
                .Append(directory)
                .ToList();
            foreach (var cgroup in tree)
            {
                await EmptyAndRemoveAsync(cgroup);
            }
        }
    }

    private static async Task EmptyAndRemoveAsync(string cgroup)
    {
        var procs = Path.Combine(cgroup, "cgroup.procs");
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var pids = File.Exists(procs) ? File.ReadAllLines(procs).Where(line => line.Length > 0).Select(int.Parse).ToList() : [];
            foreach (var pid in pids)
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill();
                }
                catch (Exception error) when (error is ArgumentException or InvalidOperationException)
                {
                    // Already gone.
                }
            }
            try
            {
                Directory.Delete(cgroup);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException)
            {
                // Busy while the killed processes are reaped.
                await Task.Delay(20);
            }
        }
        throw new IOException($"cgroup {cgroup} still holds processes after SIGKILL");
    }
}
