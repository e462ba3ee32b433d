using System.Diagnostics;
using Berth.Api.Shim;
using Xunit;

namespace Berth.Shim.Tests.E2e;

/// <summary>
/// Runs real berth-shim processes the way berthd does: bundles under a temporary root, a busybox
/// layer as the image, cgroups under a test-only parent. Dispose removes every shim, process,
/// mount, pin and cgroup it made, whether the test passed or not.
/// </summary>
public sealed class ShimHarness : IDisposable
{
    /// <summary>$BERTH_SHIM, else out/berth-shim of the repository the tests run from (make build puts it there).</summary>
    public static string ShimPath { get; } = FindShim();

    private static string FindShim()
    {
        if (Environment.GetEnvironmentVariable("BERTH_SHIM") is { Length: > 0 } path)
        {
            return path;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "out", "berth-shim");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException("no berth-shim in out/ of any parent folder: run make build, or set BERTH_SHIM");
    }

    private static readonly string[] s_applets =
    [
        "sh", "sleep", "echo", "cat", "dd", "head", "tr", "true", "false", "ls", "id", "hostname", "env", "pwd",
        "mount", "grep", "wc", "seq", "kill", "ps", "yes", "test", "stat", "readlink", "touch", "mkdir",
    ];

    private readonly List<ShimInstance> _shims = [];

    public ShimHarness()
    {
        Root = Directory.CreateTempSubdirectory("bse-").FullName;
        CgroupParent = "berth-e2e-" + Path.GetFileName(Root);
        Lower = Path.Combine(Root, "lower");
        foreach (string dir in new[] { "bin", "proc", "sys", "dev", "etc", "tmp", "root" })
        {
            Directory.CreateDirectory(Path.Combine(Lower, dir));
        }
        File.Copy("/bin/busybox", Path.Combine(Lower, "bin/busybox"));
        foreach (string applet in s_applets)
        {
            File.CreateSymbolicLink(Path.Combine(Lower, "bin", applet), "busybox");
        }
        File.WriteAllText(Path.Combine(Lower, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
        File.WriteAllText(Path.Combine(Lower, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
    }

    public string Root { get; }

    public string Lower { get; }

    public string CgroupParent { get; }

    public string LogDir => Path.Combine(Root, "logs");

    public static OciSpec SandboxSpec(string cgroupsPath, bool sharePid) => new()
    {
        Hostname = "pod-host",
        Process = new OciProcess { Args = ["pause"], OomScoreAdj = -998 },
        Linux = new LinuxConfig
        {
            CgroupsPath = cgroupsPath,
            Sysctl = new Dictionary<string, string> { ["net.ipv4.ip_unprivileged_port_start"] = "0", ["kernel.shmmni"] = "4000" },
            Namespaces =
            [
                new LinuxNamespace { Type = LinuxNamespaceType.Network },
                new LinuxNamespace { Type = LinuxNamespaceType.Ipc },
                new LinuxNamespace { Type = LinuxNamespaceType.Uts },
                .. sharePid ? new[] { new LinuxNamespace { Type = LinuxNamespaceType.Pid } } : [],
            ],
        },
    };

    private static readonly string[] s_defaultCaps =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    /// <summary>A container spec as berthd would write it: the standard mounts, the pod's namespaces joined by path.</summary>
    public OciSpec ContainerSpec(ShimInstance sandbox, string id, string[] args, LinuxResources? resources = null, bool sharePid = true) => new()
    {
        Process = new OciProcess
        {
            Args = args,
            Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "GREETING=hello from env"],
            Cwd = "/",
            Capabilities = new OciCapabilities { Bounding = s_defaultCaps, Effective = s_defaultCaps, Permitted = s_defaultCaps },
            Rlimits = [new OciRlimit { Type = "RLIMIT_NOFILE", Soft = 1024, Hard = 1024 }],
            NoNewPrivileges = true,
            OomScoreAdj = 1000,
        },
        Root = new OciRoot { Path = "rootfs" },
        Hostname = "ignored-joined-uts",
        Mounts =
        [
            new OciMount { Destination = "/proc", Type = "proc", Source = "proc", Options = ["nosuid", "noexec", "nodev"] },
            new OciMount { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            new OciMount { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            new OciMount { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            new OciMount { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] },
            new OciMount { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["nosuid", "noexec", "nodev", "ro"] },
            new OciMount { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = ["nosuid", "noexec", "nodev", "relatime", "ro"] },
            new OciMount { Destination = "/etc/hostname", Type = "bind", Source = HostnameFile(), Options = ["rbind", "rprivate", "ro"] },
        ],
        Linux = new LinuxConfig
        {
            CgroupsPath = $"{CgroupParent}/{sandbox.Id}/{id}",
            Resources = resources,
            Namespaces =
            [
                new LinuxNamespace { Type = LinuxNamespaceType.Network, Path = Path.Combine(sandbox.Options.NamespaceDir!, "net") },
                new LinuxNamespace { Type = LinuxNamespaceType.Ipc, Path = Path.Combine(sandbox.Options.NamespaceDir!, "ipc") },
                new LinuxNamespace { Type = LinuxNamespaceType.Uts, Path = Path.Combine(sandbox.Options.NamespaceDir!, "uts") },
                new LinuxNamespace { Type = LinuxNamespaceType.Mount },
                sharePid
                    ? new LinuxNamespace { Type = LinuxNamespaceType.Pid, Path = Path.Combine(sandbox.Options.NamespaceDir!, "pid") }
                    : new LinuxNamespace { Type = LinuxNamespaceType.Pid },
            ],
            MaskedPaths = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware", "/proc/scsi"],
            ReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    };

    private string HostnameFile()
    {
        string path = Path.Combine(Root, "hostname");
        File.WriteAllText(path, "pod-host\n");
        return path;
    }

    public async Task<ShimInstance> StartSandboxAsync(string id, bool sharePid = true)
    {
        var options = new ShimOptions
        {
            Kind = ShimKind.Sandbox,
            Id = id,
            SandboxId = id,
            NamespaceDir = Path.Combine(Root, "ns", id),
        };
        return await StartAsync(id, SandboxSpec($"{CgroupParent}/{id}", sharePid), options);
    }

    public async Task<ShimInstance> StartContainerAsync(ShimInstance sandbox, string id, OciSpec spec, bool tty = false)
    {
        string bundle = Path.Combine(Root, id);
        var options = new ShimOptions
        {
            Kind = ShimKind.Container,
            Id = id,
            SandboxId = sandbox.Id,
            LogPath = Path.Combine(LogDir, id + ".log"),
            Tty = tty,
            Rootfs = new RootfsLayers { LowerDirs = [Lower], UpperDir = Path.Combine(bundle, "upper"), WorkDir = Path.Combine(bundle, "work") },
        };
        return await StartAsync(id, spec, options);
    }

    /// <summary>A container shim whose config.json holds <paramref name="configJson"/> as given: a bundle berthd would never write.</summary>
    public Task<ShimInstance> StartWithRawConfigAsync(string id, string configJson) =>
        StartAsync(id, new OciSpec(), new ShimOptions { Kind = ShimKind.Container, Id = id },
            bundle => File.WriteAllText(BundleLayout.ConfigPath(bundle), configJson));

    private Task<ShimInstance> StartAsync(string id, OciSpec spec, ShimOptions options) =>
        StartAsync(id, spec, options, bundle => OciJson.WriteSpec(BundleLayout.ConfigPath(bundle), spec));

    private async Task<ShimInstance> StartAsync(string id, OciSpec spec, ShimOptions options, Action<string> writeConfig)
    {
        string bundle = Path.Combine(Root, id);
        Directory.CreateDirectory(bundle);
        writeConfig(bundle);
        ShimJson.WriteOptions(BundleLayout.OptionsPath(bundle), options);
        var process = Process.Start(new ProcessStartInfo(ShimPath) { ArgumentList = { "serve", bundle }, UseShellExecute = false })!;
        var shim = new ShimInstance(id, bundle, spec, options, process);
        _shims.Add(shim);
        shim.Client = await ShimClient.ConnectAsync(BundleLayout.SocketPath(bundle), TimeSpan.FromSeconds(10));
        return shim;
    }

    public void Dispose()
    {
        foreach (ShimInstance shim in Enumerable.Reverse(_shims))
        {
            try
            {
                if (!shim.Process.HasExited)
                {
                    using var client = ShimClient.ConnectAsync(BundleLayout.SocketPath(shim.Bundle), TimeSpan.FromSeconds(1)).GetAwaiter().GetResult();
                    client.ShutdownAsync().Wait(TimeSpan.FromSeconds(15));
                }
            }
            catch (Exception)
            {
                // Cleaned up by force below.
            }
            try
            {
                if (!shim.Process.WaitForExit(TimeSpan.FromSeconds(5)))
                {
                    shim.Process.Kill();
                    shim.Process.WaitForExit(TimeSpan.FromSeconds(5));
                }
            }
            catch (InvalidOperationException)
            {
            }
            shim.Client?.Dispose();
            shim.Process.Dispose();
        }
        ShimLeftovers.RemoveCgroups(CgroupParent);
        ShimLeftovers.UnmountUnder(Root);
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One shim the harness started.</summary>
public sealed class ShimInstance
{
    public ShimInstance(string id, string bundle, OciSpec spec, ShimOptions options, Process process)
    {
        Id = id;
        Bundle = bundle;
        Spec = spec;
        Options = options;
        Process = process;
    }

    public string Id { get; }
    public string Bundle { get; }
    public OciSpec Spec { get; }
    public ShimOptions Options { get; }
    public Process Process { get; }
    public ShimClient Client { get; set; } = null!;

    public Task<ShimClient> ConnectAsync() => ShimClient.ConnectAsync(BundleLayout.SocketPath(Bundle), TimeSpan.FromSeconds(5));

    public string ShimLog => File.Exists(BundleLayout.ShimLogPath(Bundle)) ? File.ReadAllText(BundleLayout.ShimLogPath(Bundle)) : "";
}

/// <summary>Finds and removes what a failed test may leave: mounts under a directory, cgroups under a parent.</summary>
public static class ShimLeftovers
{
    public static IReadOnlyList<string> MountsUnder(string root) =>
        File.ReadAllLines("/proc/self/mountinfo")
            .Select(line => line.Split(' ')[4].Replace("\\040", " "))
            .Where(mountPoint => mountPoint == root || mountPoint.StartsWith(root + "/", StringComparison.Ordinal))
            .ToList();

    public static void UnmountUnder(string root)
    {
        foreach (string mountPoint in MountsUnder(root).OrderByDescending(m => m.Length))
        {
            Umount(mountPoint);
        }
    }

    public static IReadOnlyList<string> CgroupsUnder(string parent) =>
        Directory.GetDirectories("/sys/fs/cgroup")
            .Select(h => Path.Combine(h, parent))
            .Where(Directory.Exists)
            .ToList();

    public static void RemoveCgroups(string parent)
    {
        foreach (string top in CgroupsUnder(parent))
        {
            foreach (string dir in Directory.GetDirectories(top, "*", SearchOption.AllDirectories).Append(top).OrderByDescending(d => d.Length))
            {
                try
                {
                    foreach (string pid in File.ReadAllLines(Path.Combine(dir, "cgroup.procs")))
                    {
                        try
                        {
                            Process.GetProcessById(int.Parse(pid)).Kill();
                        }
                        catch (Exception)
                        {
                        }
                    }
                    for (int i = 0; i < 50; i++)
                    {
                        try
                        {
                            Directory.Delete(dir);
                            break;
                        }
                        catch (IOException)
                        {
                            Thread.Sleep(20);
                        }
                    }
                }
                catch (Exception)
                {
                }
            }
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int umount2(string target, int flags);

    private static void Umount(string target) => umount2(target, 2 /* MNT_DETACH */);
}
