using System.Net.Sockets;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using Grpc.Net.Client;

namespace Berth.Bench;

/// <summary>
/// A CRI runtime under test: a daemon started by the benchmark under its own temporary
/// directory (root, state, socket, config), reached through the project's CRI gRPC client.
/// Dispose removes its pods through the CRI, stops it, then kills whatever process still names
/// its directory, unmounts what is mounted beneath it and deletes it.
/// </summary>
public abstract class RuntimeUnderTest : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private ChildProcess? _process;
    private GrpcChannel? _channel;

    protected RuntimeUnderTest(string name, string directory)
    {
        Name = name;
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
    }

    /// <summary>"berth" or "containerd": the key of its figures in a row.</summary>
    public string Name { get; }

    public string Directory { get; }

    public string SocketPath => Path.Combine(Directory, "cri.sock");

    public RuntimeService.RuntimeServiceClient Runtime { get; private set; } = null!;

    public ImageService.ImageServiceClient Images { get; private set; } = null!;

    public int DaemonPid => _process?.Id ?? 0;

    public string VersionText { get; private set; } = "";

    /// <summary>The per-pod helper processes this runtime started: its shims (not their children).</summary>
    public abstract IReadOnlyList<ProcessInfo> ShimProcesses(IReadOnlyList<ProcessInfo> table);

    protected async Task LaunchAsync(string program, IEnumerable<string> arguments)
    {
        _process = ChildProcess.Start(program, arguments);
        _channel = CreateChannel(SocketPath);
        Runtime = new RuntimeService.RuntimeServiceClient(_channel);
        Images = new ImageService.ImageServiceClient(_channel);
        await _process.WaitUntilReadyAsync(Name, StartTimeout, async cancellation =>
        {
            if (!File.Exists(SocketPath))
            {
                return false;
            }

            var version = await Runtime.VersionAsync(new VersionRequest { Version = "v1" }, deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: cancellation);
            VersionText = $"{version.RuntimeName} {version.RuntimeVersion}";
            return true;
        });
    }

    public string OutputTail() => _process?.Tail(30) ?? "";

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_process is { HasExited: false })
            {
                await RemoveAllPodsAsync();
            }
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"[bench] {Name}: removing pods at the end failed: {e.Message}");
        }

        if (_channel is { } channel)
        {
            _channel = null;
            channel.Dispose();
        }

        if (_process is { } process)
        {
            await process.StopAsync(TimeSpan.FromSeconds(10));
            await process.DisposeAsync();
        }

        await Leftovers.KillProcessesUsingAsync(Directory);
        await AfterStopAsync();
        Leftovers.UnmountEverythingUnder(Directory);
        var stillMounted = Leftovers.MountsUnder(Directory);
        if (stillMounted.Count > 0)
        {
            throw new IOException($"{Name}: cannot remove {Directory}: still mounted: {string.Join(", ", stillMounted)}");
        }

        System.IO.Directory.Delete(Directory, recursive: true);
        GC.SuppressFinalize(this);
    }

    protected virtual Task AfterStopAsync() => Task.CompletedTask;

    /// <summary>
    /// Removes every pod the daemon knows, four at a time, in kubelet's order: StopContainer
    /// (timeout 0: SIGKILL at once) for each running container, then StopPodSandbox and
    /// RemovePodSandbox. Stopping the containers first keeps a runtime's own grace period for
    /// StopPodSandbox out of the clean-up.
    /// </summary>
    public async Task RemoveAllPodsAsync()
    {
        var containers = await Runtime.ListContainersAsync(new ListContainersRequest
        {
            Filter = new ContainerFilter { State = new ContainerStateValue { State = ContainerState.ContainerRunning } },
        }, deadline: DateTime.UtcNow.AddSeconds(30));
        var pods = await Runtime.ListPodSandboxAsync(new ListPodSandboxRequest(), deadline: DateTime.UtcNow.AddSeconds(30));
        var containersByPod = containers.Containers.ToLookup(c => c.PodSandboxId);
        await Parallel.ForEachAsync(pods.Items, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (pod, _) =>
        {
            try
            {
                foreach (var container in containersByPod[pod.Id])
                {
                    await Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = container.Id, Timeout = 0 }, deadline: DateTime.UtcNow.AddSeconds(60));
                }

                await Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = pod.Id }, deadline: DateTime.UtcNow.AddSeconds(60));
                await Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = pod.Id }, deadline: DateTime.UtcNow.AddSeconds(60));
            }
            catch (RpcException e)
            {
                Console.Error.WriteLine($"[bench] {Name}: removing pod {pod.Id}: {e.Status.Detail}");
            }
        });
    }

    /// <summary>gRPC over the unix socket, several connections for the parallel rows, replies up to 64 MiB.</summary>
    private static GrpcChannel CreateChannel(string socketPath) =>
        Berth.Api.Admin.UnixSocketChannel.Create(socketPath, maxReceiveBytes: 64 << 20, manyConnections: true);
}

/// <summary>out/berthd, with out/berth-shim beside it.</summary>
public sealed class BerthRuntime : RuntimeUnderTest
{
    private readonly string _shim;

    private BerthRuntime(string directory, string shim)
        : base("berth", directory) => _shim = shim;

    /// <param name="cniConfig">The pod network's conflist, written to the daemon's own conf dir (the same one containerd gets).</param>
    public static async Task<BerthRuntime> StartAsync(string directory, string berthd, string registryName, string registryHost, string cniConfig)
    {
        var shim = Path.Combine(Path.GetDirectoryName(berthd)!, "berth-shim");
        var runtime = new BerthRuntime(directory, Path.GetFullPath(shim));
        try
        {
            var config = Path.Combine(directory, "config.json");
            var cni = Path.Combine(directory, "net.d");
            System.IO.Directory.CreateDirectory(cni);
            File.WriteAllText(Path.Combine(cni, "10-bench.conflist"), cniConfig);
            File.WriteAllText(config, $$"""
                {
                  "logLevel": "Warning",
                  "registries": { "{{registryName}}": { "mirrors": ["http://{{registryHost}}"] } },
                  "cni": { "confDir": "{{cni}}", "binDirs": ["/usr/lib/cni"] }
                }
                """);
            await runtime.LaunchAsync(berthd,
            [
                "--listen", $"unix://{runtime.SocketPath}",
                "--root", Path.Combine(directory, "root"),
                "--state", Path.Combine(directory, "state"),
                "--config", config,
            ]);
            return runtime;
        }
        catch
        {
            await runtime.DisposeAsync();
            throw;
        }
    }

    /// <summary>berth-shim processes serving this daemon's pods and containers ("serve" mode).</summary>
    public override IReadOnlyList<ProcessInfo> ShimProcesses(IReadOnlyList<ProcessInfo> table) =>
        [.. table.Where(p => p.Exe == _shim && p.CommandLine.Contains(" serve ", StringComparison.Ordinal)
            && p.CommandLine.Contains(Directory + "/", StringComparison.Ordinal))];
}

/// <summary>
/// Debian's containerd 1.6 with its CRI plugin, configured as /work/shared/cri-lab does it
/// (cgroupfs, restrict_oom_score_adj, runc v2 shim), with everything under its own directory.
/// </summary>
public sealed class ContainerdRuntime : RuntimeUnderTest
{
    private const string ShimSocketDirectory = "/run/containerd/s";
    private HashSet<string> _shimSocketsBefore = [];

    private ContainerdRuntime(string directory)
        : base("containerd", directory)
    {
    }

    public static async Task<ContainerdRuntime> StartAsync(string directory, string registryName, string registryHost, string sandboxImage, string cniConfig)
    {
        var runtime = new ContainerdRuntime(directory);
        try
        {
            runtime._shimSocketsBefore = ShimSockets();
            var root = Path.Combine(directory, "root");
            var state = Path.Combine(directory, "state");
            var certs = Path.Combine(directory, "certs.d");
            var cni = Path.Combine(directory, "net.d");
            System.IO.Directory.CreateDirectory(Path.Combine(certs, registryName));
            System.IO.Directory.CreateDirectory(cni);
            File.WriteAllText(Path.Combine(cni, "10-bench.conflist"), cniConfig);
            // "server" is the loopback registry itself: containerd never falls back to the real host.
            File.WriteAllText(Path.Combine(certs, registryName, "hosts.toml"), $$"""
                server = "http://{{registryHost}}"

                [host."http://{{registryHost}}"]
                  capabilities = ["pull", "resolve"]
                  skip_verify = true
                """);
            var config = Path.Combine(directory, "config.toml");
            File.WriteAllText(config, $$"""
                version = 2
                root = "{{root}}"
                state = "{{state}}"
                disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

                [grpc]
                  address = "{{runtime.SocketPath}}"

                [ttrpc]
                  address = "{{runtime.SocketPath}}.ttrpc"

                [debug]
                  level = "warn"

                [plugins]
                  [plugins."io.containerd.grpc.v1.cri"]
                    sandbox_image = "{{sandboxImage}}"
                    stream_server_address = "127.0.0.1"
                    stream_server_port = "0"
                    enable_selinux = false
                    # no CAP_SYS_RESOURCE here: nothing may lower oom_score_adj below containerd's own
                    restrict_oom_score_adj = true
                    [plugins."io.containerd.grpc.v1.cri".containerd]
                      snapshotter = "overlayfs"
                      default_runtime_name = "runc"
                      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                        runtime_type = "io.containerd.runc.v2"
                        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                          BinaryName = "/usr/sbin/runc"
                          SystemdCgroup = false
                    [plugins."io.containerd.grpc.v1.cri".cni]
                      bin_dir = "/usr/lib/cni"
                      conf_dir = "{{cni}}"
                      max_conf_num = 1
                    [plugins."io.containerd.grpc.v1.cri".registry]
                      config_path = "{{certs}}"
                  [plugins."io.containerd.internal.v1.opt"]
                    path = "{{Path.Combine(root, "opt")}}"
                """);
            await runtime.LaunchAsync("/usr/bin/containerd", ["--config", config]);
            return runtime;
        }
        catch
        {
            await runtime.DisposeAsync();
            throw;
        }
    }

    /// <summary>containerd-shim-runc-v2 processes of this daemon (one per pod): their -address names its socket.</summary>
    public override IReadOnlyList<ProcessInfo> ShimProcesses(IReadOnlyList<ProcessInfo> table) =>
        [.. table.Where(p => Path.GetFileName(p.Exe) == "containerd-shim-runc-v2"
            && p.CommandLine.Contains(SocketPath, StringComparison.Ordinal))];

    /// <summary>A shim killed rather than shut down leaves its socket in /run/containerd/s: remove the ones this run made and nobody listens on.</summary>
    protected override Task AfterStopAsync()
    {
        var listening = Procs.Read("/proc/net/unix");
        foreach (var socket in ShimSockets().Except(_shimSocketsBefore))
        {
            if (!listening.Contains(socket, StringComparison.Ordinal))
            {
                try
                {
                    File.Delete(socket);
                }
                catch (IOException)
                {
                }
            }
        }

        return Task.CompletedTask;
    }

    private static HashSet<string> ShimSockets() =>
        System.IO.Directory.Exists(ShimSocketDirectory) ? [.. System.IO.Directory.EnumerateFileSystemEntries(ShimSocketDirectory)] : [];
}
