using System.Diagnostics;

namespace Berth.Tests.E2e.Fixtures;

/// <summary>
/// A real systemd (the machine's, Debian's systemd 252) running as PID 1 of its own PID, mount and UTS
/// namespaces, so the systemd cgroup driver is tested against the real thing on a machine whose own PID 1 is
/// not systemd. Its root cgroup is a fresh <c>berth-e2e-systemd-*</c> cgroup in every hierarchy; it reads no
/// unit of the host (an empty /etc/systemd/system and /lib/systemd/system, a default.target that starts
/// nothing) and answers on its private bus socket at /run/systemd/private inside its mount namespace.
/// Processes that systemd puts in scopes must live in its PID namespace: run berthd through <see cref="Enter"/>.
/// Dispose kills the namespace (every process in it dies with its PID 1) and removes its cgroups.
/// </summary>
internal sealed class TestSystemd : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly ChildProcess _unshare;
    private readonly DirectoryInfo _units;
    private readonly IReadOnlyList<string> _hostCgroupDirectories;

    private TestSystemd(ChildProcess unshare, DirectoryInfo units, string cgroupRoot, IReadOnlyList<string> hostCgroupDirectories)
    {
        _unshare = unshare;
        _units = units;
        CgroupRoot = cgroupRoot;
        _hostCgroupDirectories = hostCgroupDirectories;
    }

    /// <summary>Where systemd reads unit files (its /etc/systemd/system): put one there, then daemon-reload.</summary>
    public string UnitDirectory => _units.FullName;

    /// <summary>A path inside systemd's mount namespace, reached from the test's (/proc/PID/root/...).</summary>
    public string HostPath(string path) => $"/proc/{Pid}/root{path}";

    /// <summary>systemd's pid, as this test sees it.</summary>
    public int Pid { get; private set; }

    /// <summary>The cgroup systemd runs its whole tree in (its -.slice), e.g. /berth-e2e-systemd-1a2b3c.</summary>
    public string CgroupRoot { get; }

    /// <summary>A launcher that runs a program inside systemd's PID and mount namespaces.</summary>
    public IReadOnlyList<string> Enter => ["nsenter", "--target", Pid.ToString(), "--pid", "--mount", "--"];

    /// <summary>Starts systemd and waits until it answers on its bus.</summary>
    public static async Task<TestSystemd> StartAsync()
    {
        string name = $"berth-e2e-systemd-{Guid.NewGuid().ToString("N")[..10]}";
        var hostDirectories = Leftovers.CgroupDirectories($"/{name}").ToList();
        foreach (string directory in hostDirectories)
        {
            Directory.CreateDirectory(directory);
            string parent = Path.GetDirectoryName(directory)!;
            foreach (string file in new[] { "cpuset.cpus", "cpuset.mems" }.Where(file => File.Exists(Path.Combine(parent, file))))
            {
                File.WriteAllText(Path.Combine(directory, file), File.ReadAllText(Path.Combine(parent, file)));
            }
        }
        var units = Directory.CreateTempSubdirectory("berth-e2e-systemd-units-");
        // The targets a service's default dependencies and a unit's usual ordering name, empty: nothing of the host runs.
        foreach (string target in new[] { "default", "sysinit", "basic", "shutdown", "local-fs", "network-online", "multi-user" })
        {
            File.WriteAllText(Path.Combine(units.FullName, $"{target}.target"), $"[Unit]\nDescription=berth e2e: {target}, empty\n");
        }
        string join = string.Join(" ", hostDirectories.Select(directory => $"echo $$ > {directory}/cgroup.procs;"));
        // systemd remounts /sys/fs/cgroup read-only and makes directories in it: it gets a tmpfs of its own there
        // (the host's is one superblock across mount namespaces), holding the host's hierarchies bound in.
        const string stash = "/run/berth-e2e-cgroup";
        var hierarchies = File.Exists("/sys/fs/cgroup/cgroup.controllers")
            ? []
            : hostDirectories.Select(directory => Path.GetFileName(Path.GetDirectoryName(directory))!).ToList();
        string[] privateCgroupRoot = hierarchies.Count == 0 ? [] :
        [
            $"mkdir {stash}",
            $"mount -t tmpfs -o mode=755 cgroup {stash}",
            .. hierarchies.Select(hierarchy => $"mkdir {stash}/{hierarchy} && mount --bind /sys/fs/cgroup/{hierarchy} {stash}/{hierarchy}"),
            $"mount --move {stash} /sys/fs/cgroup",
        ];
        string inside = string.Join(" && ",
        [
            // The copies of other tests' mounts under /tmp would make their cleanup take this namespace's processes for theirs.
            "{ cut -d\" \" -f5 /proc/self/mountinfo | grep ^/tmp/ | sort -r | xargs -r -n1 umount -l; true; }",
            "mount -t tmpfs tmpfs /run",
            .. privateCgroupRoot,
            "mkdir -p /run/systemd/system",
            $"mount --bind {units.FullName} /etc/systemd/system",
            $"mount --bind {units.FullName} /lib/systemd/system",
            "exec env container=berth-e2e /lib/systemd/systemd --system --log-target=console --log-level=notice </dev/null",
        ]);
        var unshare = ChildProcess.Start("/bin/sh",
            ["-c", $"{join} exec unshare --pid --mount --uts --fork --mount-proc --propagation private /bin/sh -c '{inside}'"]);
        var systemd = new TestSystemd(unshare, units, "/" + name, hostDirectories);
        try
        {
            await unshare.SignalChildAsync(StartTimeout);
            systemd.Pid = unshare.SignalTarget!.Value;
            await unshare.WaitUntilReadyAsync("systemd", StartTimeout,
                async _ => File.Exists($"/proc/{systemd.Pid}/root/run/systemd/private")
                    && (await systemd.RunAsync("systemctl", "is-system-running")).Trim() is "running" or "degraded");
            return systemd;
        }
        catch
        {
            await systemd.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs a command inside systemd's namespaces; its stdout (a failing command's output is still returned).</summary>
    public async Task<string> RunAsync(params string[] command)
    {
        var start = new ProcessStartInfo(Enter[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in Enter.Skip(1).Concat(command))
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(timeout.Token);
        return await output;
    }

    /// <summary>One property of a unit, as <c>systemctl show -p NAME --value</c> gives it.</summary>
    public async Task<string> PropertyAsync(string unit, string property) =>
        (await RunAsync("systemctl", "show", unit, "-p", property, "--value")).Trim();

    public async ValueTask DisposeAsync()
    {
        // Hierarchies systemd mounted in its own namespace and the host has not: its cgroups there must go too.
        var extraHierarchies = Pid > 0 ? ExtraHierarchies(Pid) : [];
        await _unshare.DisposeAsync();
        foreach (string directory in _hostCgroupDirectories)
        {
            await RemoveTreeAsync(directory);
        }
        foreach (string options in extraHierarchies)
        {
            var mountPoint = Directory.CreateTempSubdirectory("berth-e2e-cgroup-");
            if (await RunHostAsync("mount", "-t", "cgroup", "-o", options, "cgroup", mountPoint.FullName) == 0)
            {
                await RemoveTreeAsync(Path.Combine(mountPoint.FullName, CgroupRoot.TrimStart('/')));
                await RunHostAsync("umount", mountPoint.FullName);
            }
            mountPoint.Delete();
        }
        _units.Delete(recursive: true);
    }

    /// <summary>The v1 controllers (mount options) of the cgroup mounts in systemd's namespace that the host does not mount.</summary>
    private static List<string> ExtraHierarchies(int pid)
    {
        static IEnumerable<string> Controllers(string mountinfo) =>
            from line in File.ReadLines(mountinfo)
            let separator = line.Split(" - ")
            where separator.Length == 2 && separator[1].StartsWith("cgroup ", StringComparison.Ordinal)
            select string.Join(',', separator[1].Split(' ')[2].Split(',').Where(option => option is not ("rw" or "ro") && !option.StartsWith("relatime", StringComparison.Ordinal)
                && !option.StartsWith("no", StringComparison.Ordinal)));
        try
        {
            var host = Controllers("/proc/self/mountinfo").ToHashSet();
            return Controllers($"/proc/{pid}/mountinfo").Where(controllers => !host.Contains(controllers)).Distinct().ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>rmdir of a cgroup tree, deepest first, retrying while the kernel still counts dying tasks.</summary>
    private static async Task RemoveTreeAsync(string directory)
    {
        for (int attempt = 0; attempt < 50 && Directory.Exists(directory); attempt++)
        {
            foreach (string cgroup in Directory.EnumerateDirectories(directory, "*", SearchOption.AllDirectories)
                         .OrderByDescending(path => path.Length).Append(directory))
            {
                try
                {
                    Directory.Delete(cgroup);
                }
                catch (IOException)
                {
                }
            }
            if (Directory.Exists(directory))
            {
                await Task.Delay(100);
            }
        }
    }

    private static async Task<int> RunHostAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        _ = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode;
    }
}
