using System.Diagnostics;
using Berth.Api.Cri;
using Berth.Api.Streaming.Client;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using CriImageSpec = Berth.Api.Cri.ImageSpec;

namespace Berth.Bench;

/// <summary>
/// The measurements. Every latency row alternates the runtimes sample by sample (berth first
/// on even samples, containerd first on odd ones), so that drift of the shared machine lands on
/// both alike. Requests are the same for both, byte for byte, except names and paths that must
/// differ (pod names, log directories, cgroup parents under each runtime's own subtree).
/// </summary>
public sealed class Bench(BenchOptions options, Report report, string cgroupRoot, CancellationToken cancellation)
{
    private static readonly TimeSpan RpcTimeout = TimeSpan.FromSeconds(120);
    private int _podCounter;

    /// <summary>Everything the pods of this benchmark share: one CNI network for both runtimes (a host-network row apart), and no pause-image pull in any timed call.</summary>
    public const string NetworkNote =
        "pods get a CNI network on both runtimes, from the same conflist (Debian's bridge, host-local and portmap plugins on one bridge and one /16); sandbox_hostnet is RunPodSandbox of a host-network pod, without CNI";

    public BenchImages Images { get; set; } = null!;

    /// <summary>When the latency rows' recorded samples began (after the warm-up cycles): the window of --trace.</summary>
    public DateTime RecordedFrom { get; private set; }

    /// <summary>When the first and the last <see cref="FlatnessWindow"/> density pods were started, for --trace.</summary>
    public (DateTime From, DateTime To)? FirstDensityPods { get; private set; }

    public (DateTime From, DateTime To)? LastDensityPods { get; private set; }

    public static double Ms(long start) => Stopwatch.GetElapsedTime(start).TotalMilliseconds;

    private static DateTime Deadline() => DateTime.UtcNow + RpcTimeout;

    private static IEnumerable<RuntimeUnderTest> Order(int sample, RuntimeUnderTest berth, RuntimeUnderTest containerd) =>
        sample % 2 == 0 ? [berth, containerd] : [containerd, berth];

    public static void Log(string message) => Console.Error.WriteLine($"[bench {DateTime.Now:HH:mm:ss}] {message}");

    // ------------------------------------------------------------------ requests

    public PodSandboxConfig PodConfig(RuntimeUnderTest runtime, string kind, bool hostNetwork = false)
    {
        var name = $"{kind}-{Interlocked.Increment(ref _podCounter)}";
        var config = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = name, Namespace = "bench", Uid = Guid.NewGuid().ToString(), Attempt = 0 },
            // kubelet sends no hostname for a host-network pod: it shares the node's UTS namespace
            LogDirectory = Path.Combine(runtime.Directory, "logs", name),
            Linux = new LinuxPodSandboxConfig
            {
                CgroupParent = $"/{cgroupRoot}/{runtime.Name}/{name}",
                SecurityContext = new LinuxSandboxSecurityContext
                {
                    NamespaceOptions = PodNamespaces(hostNetwork),
                },
            },
        };
        if (!hostNetwork)
        {
            config.Hostname = name;
        }
        config.Labels.Add("app", name);
        // kubelet makes the pod's log directory before RunPodSandbox; so does the benchmark, untimed.
        Directory.CreateDirectory(config.LogDirectory);
        return config;
    }

    private static NamespaceOption PodNamespaces(bool hostNetwork = false) =>
        new() { Network = hostNetwork ? NamespaceMode.Node : NamespaceMode.Pod, Pid = NamespaceMode.Container, Ipc = NamespaceMode.Pod };

    public ContainerConfig SleeperConfig()
    {
        var config = new ContainerConfig
        {
            Metadata = new ContainerMetadata { Name = "sleeper", Attempt = 0 },
            Image = new CriImageSpec { Image = Images.Busybox },
            LogPath = "sleeper.log",
            // as kubelet does, the container repeats its pod's namespace modes
            Linux = new LinuxContainerConfig
            {
                SecurityContext = new LinuxContainerSecurityContext { NamespaceOptions = PodNamespaces() },
            },
        };
        config.Command.AddRange(["sleep", "3600"]);
        config.Labels.Add("container", "sleeper");
        return config;
    }

    private sealed record StartedPod(string PodId, string ContainerId, double RunPodMs, double CreateMs, double StartMs, double TotalMs);

    /// <summary>RunPodSandbox, CreateContainer (busybox sleep), StartContainer: what kubelet does for a new pod.</summary>
    private async Task<StartedPod> StartPodAsync(RuntimeUnderTest runtime, string kind)
    {
        var pod = PodConfig(runtime, kind);
        var t0 = Stopwatch.GetTimestamp();
        var podId = (await runtime.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = pod }, deadline: Deadline(), cancellationToken: cancellation)).PodSandboxId;
        var runPod = Ms(t0);
        var t1 = Stopwatch.GetTimestamp();
        var containerId = (await runtime.Runtime.CreateContainerAsync(
            new CreateContainerRequest { PodSandboxId = podId, Config = SleeperConfig(), SandboxConfig = pod }, deadline: Deadline(), cancellationToken: cancellation)).ContainerId;
        var create = Ms(t1);
        var t2 = Stopwatch.GetTimestamp();
        await runtime.Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = containerId }, deadline: Deadline(), cancellationToken: cancellation);
        var start = Ms(t2);
        return new StartedPod(podId, containerId, runPod, create, start, Ms(t0));
    }

    private async Task<double> StopRemoveAsync(RuntimeUnderTest runtime, string podId)
    {
        var t0 = Stopwatch.GetTimestamp();
        await runtime.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId }, deadline: Deadline(), cancellationToken: cancellation);
        await runtime.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId }, deadline: Deadline(), cancellationToken: cancellation);
        return Ms(t0);
    }

    private async Task<double> ExecTrueAsync(RuntimeUnderTest runtime, string containerId)
    {
        var request = new ExecSyncRequest { ContainerId = containerId, Timeout = 10 };
        request.Cmd.Add("true");
        var t0 = Stopwatch.GetTimestamp();
        var response = await runtime.Runtime.ExecSyncAsync(request, deadline: Deadline(), cancellationToken: cancellation);
        var elapsed = Ms(t0);
        return response.ExitCode == 0
            ? elapsed
            : throw new InvalidOperationException($"{runtime.Name}: ExecSync true exited {response.ExitCode}: {response.Stderr.ToStringUtf8()}");
    }

    /// <summary>A streaming exec of `true` as kubelet runs one: Exec for the URL, then the SPDY session until the exit status.</summary>
    private async Task<double> ExecSessionAsync(RuntimeUnderTest runtime, string containerId)
    {
        var request = new ExecRequest { ContainerId = containerId, Stdout = true, Stderr = true };
        request.Cmd.Add("true");
        var t0 = Stopwatch.GetTimestamp();
        var response = await runtime.Runtime.ExecAsync(request, deadline: Deadline(), cancellationToken: cancellation);
        var result = await RemoteCommandClient.RunAsync(new Uri(response.Url),
            new RemoteCommandStreams { Stdout = Stream.Null, Stderr = Stream.Null }, StreamingTransport.Spdy, cancellationToken: cancellation);
        var elapsed = Ms(t0);
        return result.ExitCode == 0
            ? elapsed
            : throw new InvalidOperationException($"{runtime.Name}: exec session of true ended with {result.Status?.Message}");
    }

    /// <summary>Density pods at each end compared by pod_start_flatness.</summary>
    public const int FlatnessWindow = 20;

    /// <summary>ExecSync calls in one sample of exec_probe_cpu: a node's worth of exec probes.</summary>
    public const int ProbeCalls = 200;

    // ------------------------------------------------------------------ steps

    public async Task PullAsync(RuntimeUnderTest runtime, string image)
    {
        var t0 = Stopwatch.GetTimestamp();
        await runtime.Images.PullImageAsync(new PullImageRequest { Image = new CriImageSpec { Image = image } }, deadline: DateTime.UtcNow.AddMinutes(10), cancellationToken: cancellation);
        Log($"{runtime.Name}: pulled {image} in {Ms(t0):F0} ms");
    }

    /// <summary>One pod's life, timed call by call; warm-up cycles first, unrecorded.</summary>
    public async Task LatencyAsync(RuntimeUnderTest berth, RuntimeUnderTest containerd)
    {
        Log($"latency: {options.Warmup} warm-up and {options.Runs} recorded cycles per runtime (RunPodSandbox, CreateContainer, StartContainer, ExecSync true, an exec session of true, StopPodSandbox+RemovePodSandbox)");
        for (var sample = -options.Warmup; sample < options.Runs; sample++)
        {
            if (sample == 0)
            {
                RecordedFrom = DateTime.UtcNow;
            }

            foreach (var runtime in Order(sample, berth, containerd))
            {
                cancellation.ThrowIfCancellationRequested();
                var version = new List<double>();
                for (var i = 0; i < 3; i++)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    await runtime.Runtime.VersionAsync(new VersionRequest { Version = "v1" }, deadline: Deadline(), cancellationToken: cancellation);
                    version.Add(Ms(t0));
                }

                var pod = await StartPodAsync(runtime, "lat");
                var exec = await ExecTrueAsync(runtime, pod.ContainerId);
                var session = await ExecSessionAsync(runtime, pod.ContainerId);
                var stop = await StopRemoveAsync(runtime, pod.PodId);
                var hostPod = PodConfig(runtime, "host", hostNetwork: true);
                var t0Host = Stopwatch.GetTimestamp();
                var hostPodId = (await runtime.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = hostPod }, deadline: Deadline(), cancellationToken: cancellation)).PodSandboxId;
                var hostStart = Ms(t0Host);
                await StopRemoveAsync(runtime, hostPodId);
                if (sample < 0)
                {
                    continue;
                }

                report.Add("sandbox_hostnet", runtime.Name, hostStart);
                report.Add("rpc_version", runtime.Name, version);
                report.Add("sandbox_start", runtime.Name, pod.RunPodMs);
                report.Add("container_create", runtime.Name, pod.CreateMs);
                report.Add("container_start", runtime.Name, pod.StartMs);
                report.Add("pod_to_running", runtime.Name, pod.TotalMs);
                report.Add("exec_sync", runtime.Name, exec);
                report.Add("exec_session", runtime.Name, session);
                report.Add("stop_remove", runtime.Name, stop);
            }
        }
    }

    /// <summary>
    /// exec_probe_cpu: the CPU a runtime spends on <see cref="ProbeCalls"/> ExecSync calls of `true` into
    /// one running container, as kubelet's exec probes make them (kubernetes #82440). CPU is utime +
    /// stime + cutime + cstime from /proc/PID/stat of the daemon and of this pod's shims, read before
    /// and after: whatever they spawn and reap (berth-shim's exec stage, containerd-shim's runc exec
    /// and runc init, the `true` itself, which the subreaper shims reap) lands in their cumulative
    /// children's time. Not a cgroup's cpuacct: the daemons share the benchmark's cgroup, and an exec
    /// joins the container's cgroup, so no one cgroup holds exactly a runtime's own work. CPU time
    /// is charged per process, so the load of others on the machine disturbs it far less than latency.
    /// </summary>
    public async Task ExecProbeCpuAsync(RuntimeUnderTest berth, RuntimeUnderTest containerd)
    {
        Log($"exec probes: {options.ProbeRuns} samples per runtime of {ProbeCalls} ExecSync true into one running container");
        for (var sample = -1; sample < options.ProbeRuns; sample++)
        {
            foreach (var runtime in Order(sample, berth, containerd))
            {
                cancellation.ThrowIfCancellationRequested();
                var pod = await StartPodAsync(runtime, "probe");
                // the runtime's only pod: its shims are this pod's
                var shims = runtime.ShimProcesses(Procs.Snapshot()).Select(p => p.Pid).ToList();
                // where it goes: the daemon (with what it reaps), the shims themselves, what the shims reaped
                (double Daemon, double Shims, double Reaped) Cpu() => (
                    Procs.CpuSecondsWithReapedChildren(runtime.DaemonPid),
                    shims.Sum(Procs.CpuSeconds),
                    shims.Sum(Procs.CpuSecondsWithReapedChildren) - shims.Sum(Procs.CpuSeconds));
                await ExecTrueAsync(runtime, pod.ContainerId);
                var before = Cpu();
                for (var call = 0; call < ProbeCalls; call++)
                {
                    await ExecTrueAsync(runtime, pod.ContainerId);
                }

                var after = Cpu();
                await StopRemoveAsync(runtime, pod.PodId);
                if (sample >= 0)
                {
                    var (daemon, shim, reaped) = (after.Daemon - before.Daemon, after.Shims - before.Shims, after.Reaped - before.Reaped);
                    report.Add("exec_probe_cpu", runtime.Name, daemon + shim + reaped);
                    report.Note($"{runtime.Name}_probe_cpu_{sample}",
                        $"daemon {daemon:F2} s, {shims.Count} shim process(es) {shim:F2} s, processes they reaped {reaped:F2} s");
                }
            }
        }
    }

    /// <summary>N pods started at once (each RunPodSandbox, CreateContainer, StartContainer): the wall time until all run.</summary>
    public async Task ParallelAsync(RuntimeUnderTest berth, RuntimeUnderTest containerd)
    {
        Log($"parallel: {options.Parallel} pods at once, {options.ParallelRuns} samples per runtime");
        for (var sample = 0; sample < options.ParallelRuns; sample++)
        {
            foreach (var runtime in Order(sample, berth, containerd))
            {
                cancellation.ThrowIfCancellationRequested();
                var t0 = Stopwatch.GetTimestamp();
                await Task.WhenAll(Enumerable.Range(0, options.Parallel).Select(_ => StartPodAsync(runtime, "par")));
                report.Add("parallel_start", runtime.Name, Ms(t0));
                await runtime.RemoveAllPodsAsync();
            }
        }
    }

    /// <summary>
    /// N pods with one sleeping container each, started pod by pod alternating the runtimes; then
    /// memory of shims and daemons, and the list calls with all of them present.
    /// </summary>
    public async Task DensityAsync(RuntimeUnderTest berth, RuntimeUnderTest containerd)
    {
        RuntimeUnderTest[] both = [berth, containerd];
        await Task.Delay(2000, cancellation);
        foreach (var runtime in both)
        {
            report.Add("daemon_rss_idle", runtime.Name, Procs.RssKb(runtime.DaemonPid) / 1024.0);
        }

        Log($"density: starting {options.Pods} pods per runtime, alternating");
        var starts = both.ToDictionary(r => r.Name, _ => new List<double>());
        var flatWindow = Math.Max(1, Math.Min(FlatnessWindow, options.Pods / 2));
        var densityStarted = DateTime.UtcNow;
        for (var i = 0; i < options.Pods; i++)
        {
            if (i == flatWindow)
            {
                FirstDensityPods = (densityStarted, DateTime.UtcNow);
            }

            if (i == options.Pods - flatWindow)
            {
                LastDensityPods = (DateTime.UtcNow, DateTime.MaxValue);
            }

            foreach (var runtime in Order(i, berth, containerd))
            {
                cancellation.ThrowIfCancellationRequested();
                var pod = await StartPodAsync(runtime, "den");
                starts[runtime.Name].Add(pod.TotalMs);
            }

            if ((i + 1) % 50 == 0)
            {
                Log($"density: {i + 1} pods each");
            }
        }

        // Flatness: the last pods against the first, p50 of each (20 each, fewer with fewer than 40 pods).
        LastDensityPods = (LastDensityPods!.Value.From, DateTime.UtcNow);
        foreach (var runtime in both)
        {
            var times = starts[runtime.Name];
            report.Add("density_start", runtime.Name, times.Sum() / 1000.0);
            var (first, last) = (Stats.Of(times.Take(flatWindow).ToList())!.P50, Stats.Of(times.TakeLast(flatWindow).ToList())!.P50);
            report.Add("pod_start_flatness", runtime.Name, last / first);
            report.Note($"{runtime.Name}_flatness", $"pod_to_running p50 of density pods 1-{flatWindow}: {first:F1} ms, of pods {options.Pods - flatWindow + 1}-{options.Pods}: {last:F1} ms");
        }

        await Task.Delay(3000, cancellation);
        var table = Procs.Snapshot();
        foreach (var runtime in both)
        {
            var running = await runtime.Runtime.ListContainersAsync(new ListContainersRequest
            {
                Filter = new ContainerFilter { State = new ContainerStateValue { State = ContainerState.ContainerRunning } },
            }, deadline: Deadline(), cancellationToken: cancellation);
            if (running.Containers.Count != options.Pods)
            {
                throw new InvalidOperationException($"{runtime.Name}: {running.Containers.Count} containers running, not {options.Pods}");
            }

            var shims = runtime.ShimProcesses(table);
            // What a pod costs besides its workload: the shims and every process under them but the sleeping containers.
            var helpers = Procs.WithDescendants(table, shims.Select(s => s.Pid)).Where(p => p.Comm != "sleep").ToList();
            report.Add("shim_pss", runtime.Name, shims.Select(s => Procs.PssKb(s.Pid) / 1024.0));
            report.Add("shim_rss", runtime.Name, shims.Select(s => Procs.RollupRssKb(s.Pid) / 1024.0));
            report.Add("pod_overhead_pss", runtime.Name, helpers.Sum(p => Procs.PssKb(p.Pid)) / 1024.0 / options.Pods);
            report.Add("daemon_rss", runtime.Name, Procs.RssKb(runtime.DaemonPid) / 1024.0);
            report.Note($"{runtime.Name}_helpers", $"{shims.Count} shims and {helpers.Count - shims.Count} other helper processes for {options.Pods} pods ("
                + string.Join(", ", helpers.GroupBy(p => p.Comm).Select(g => $"{g.Count()} {g.Key}")) + ")");
        }

        // Idle: nobody calls; what the daemon spends on its own (berthd: the stats collector's passes). Three
        // windows of the collector's 10 s period, each a sample, read from the process CPU clock in nanoseconds.
        const int IdleWindows = 3;
        const int IdleWindowSeconds = 10;
        Log($"idle: {IdleWindows} x {IdleWindowSeconds} s with {options.Pods} pods present and no call");
        for (var window = 0; window < IdleWindows; window++)
        {
            var cpuBefore = both.ToDictionary(r => r.Name, r => Native.ProcessCpuNanoseconds(r.DaemonPid));
            await Task.Delay(TimeSpan.FromSeconds(IdleWindowSeconds), cancellation);
            foreach (var runtime in both)
            {
                report.Add("daemon_cpu_idle", runtime.Name, (Native.ProcessCpuNanoseconds(runtime.DaemonPid) - cpuBefore[runtime.Name]) / (IdleWindowSeconds * 1e9) * 100);
            }
        }

        Log($"list: ListPodSandbox and ListContainers with {options.Pods} pods present, {options.Runs} samples");
        for (var sample = -options.Warmup; sample < options.Runs; sample++)
        {
            foreach (var runtime in Order(sample, berth, containerd))
            {
                var t0 = Stopwatch.GetTimestamp();
                var pods = await runtime.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest(), deadline: Deadline(), cancellationToken: cancellation);
                var podsMs = Ms(t0);
                var t1 = Stopwatch.GetTimestamp();
                var containers = await runtime.Runtime.ListContainersAsync(new ListContainersRequest(), deadline: Deadline(), cancellationToken: cancellation);
                var containersMs = Ms(t1);
                if (pods.Items.Count != options.Pods || containers.Containers.Count != options.Pods)
                {
                    throw new InvalidOperationException($"{runtime.Name}: listed {pods.Items.Count} pods and {containers.Containers.Count} containers, not {options.Pods}");
                }

                var t2 = Stopwatch.GetTimestamp();
                var containerStats = await runtime.Runtime.ListContainerStatsAsync(new ListContainerStatsRequest(), deadline: Deadline(), cancellationToken: cancellation);
                var containerStatsMs = Ms(t2);
                var t3 = Stopwatch.GetTimestamp();
                var podStats = await runtime.Runtime.ListPodSandboxStatsAsync(new ListPodSandboxStatsRequest(), deadline: Deadline(), cancellationToken: cancellation);
                var podStatsMs = Ms(t3);
                if (containerStats.Stats.Count != options.Pods || podStats.Stats.Count != options.Pods)
                {
                    throw new InvalidOperationException($"{runtime.Name}: stats of {podStats.Stats.Count} pods and {containerStats.Stats.Count} containers, not {options.Pods}");
                }

                if (sample >= 0)
                {
                    report.Add("list_container_stats", runtime.Name, containerStatsMs);
                    report.Add("list_pod_sandbox_stats", runtime.Name, podStatsMs);
                    report.Add("list", runtime.Name, podsMs + containersMs);
                    report.Add("list_pod_sandbox", runtime.Name, podsMs);
                    report.Add("list_containers", runtime.Name, containersMs);
                }
            }
        }

        Log("density: removing the pods");
        foreach (var runtime in both)
        {
            var t0 = Stopwatch.GetTimestamp();
            await runtime.RemoveAllPodsAsync();
            report.Add("density_teardown", runtime.Name, Ms(t0) / 1000.0);
        }
    }

    /// <summary>RemoveImage, sync, then PullImage of the big image, timed; alternating the runtimes.</summary>
    public async Task ColdPullAsync(RuntimeUnderTest berth, RuntimeUnderTest containerd)
    {
        Log($"cold pull: {Images.Big} ({Images.BigBytes / 1e6:F0} MB), {options.PullRuns} samples per runtime");
        for (var sample = 0; sample < options.PullRuns; sample++)
        {
            foreach (var runtime in Order(sample, berth, containerd))
            {
                cancellation.ThrowIfCancellationRequested();
                await RemoveImageAsync(runtime, Images.Big);
                Native.Sync();
                var t0 = Stopwatch.GetTimestamp();
                await runtime.Images.PullImageAsync(new PullImageRequest { Image = new CriImageSpec { Image = Images.Big } }, deadline: DateTime.UtcNow.AddMinutes(10), cancellationToken: cancellation);
                report.Add("cold_pull", runtime.Name, Ms(t0));
            }
        }

        foreach (var runtime in new[] { berth, containerd })
        {
            await RemoveImageAsync(runtime, Images.Big);
        }
    }

    private async Task RemoveImageAsync(RuntimeUnderTest runtime, string image)
    {
        try
        {
            await runtime.Images.RemoveImageAsync(new RemoveImageRequest { Image = new CriImageSpec { Image = image } }, deadline: Deadline(), cancellationToken: cancellation);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
        }
    }

    // ------------------------------------------------------------------ the floor

    /// <summary>What the kernel charges whoever does it: a bare overlay mount, and spawning /bin/true and waiting for it.</summary>
    public async Task FloorAsync(string directory)
    {
        Log("floor: bare overlay mount, /bin/true spawn, berth-shim spawn into new namespaces");
        var overlay = new BareOverlay(directory);
        for (var sample = -options.Warmup; sample < options.Runs; sample++)
        {
            var (mount, umount) = overlay.MountOnce(sample);
            if (sample >= 0)
            {
                report.AddFloor("overlay_mount", mount);
                report.AddFloor("overlay_umount", umount);
            }
        }

        for (var sample = -options.Warmup; sample < options.Runs; sample++)
        {
            var t0 = Stopwatch.GetTimestamp();
            using var process = Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })!;
            await process.WaitForExitAsync(cancellation);
            if (sample >= 0)
            {
                report.AddFloor("spawn_true", Ms(t0));
            }
        }

        foreach (var sample in await ShimSpawnsAsync("sandbox"))
        {
            report.AddFloor("shim_spawn_namespaces", sample);
        }
    }

    /// <summary>
    /// pod_floor: what a pod start cannot avoid, with no runtime, one sum per sample: a spawn into a
    /// sandbox's new namespaces (pid, mount, net, IPC, UTS) and one into a container's (pid, mount),
    /// both through berth-shim's own spawn path until reaped; a bare overlay mount; and the CNI ADD of
    /// the benchmark's conflist (the plugins both runtimes run) into a network namespace made untimed
    /// (the sandbox spawn already paid for one), DEL afterwards, untimed.
    /// </summary>
    public async Task PodFloorAsync(string directory, string conflist)
    {
        Log("floor: pod_floor (two namespace spawns, an overlay mount, CNI ADD of the bench conflist)");
        var chain = new CniChain(System.Text.Json.Nodes.JsonNode.Parse(conflist)!.AsObject());
        var overlay = new BareOverlay(directory);
        var sandboxes = await ShimSpawnsAsync("sandbox");
        var containers = await ShimSpawnsAsync("container");
        var adds = new List<double>();
        for (var sample = -options.Warmup; sample < options.Runs; sample++)
        {
            var name = $"{cgroupRoot}-floor{sample + options.Warmup}";
            var netns = Path.Combine("/run/netns", name);
            await IpAsync("netns", "add", name);
            try
            {
                var t0 = Stopwatch.GetTimestamp();
                var result = await chain.AddAsync(name, netns, cancellation);
                var add = Ms(t0);
                await chain.DelAsync(name, netns, result, cancellation);
                var (mount, _) = overlay.MountOnce(sample);
                var index = sample + options.Warmup;
                if (sample >= 0)
                {
                    adds.Add(add);
                    report.AddFloor("pod_floor", sandboxes[index] + containers[index] + mount + add);
                }
            }
            finally
            {
                await IpAsync("netns", "delete", name);
            }
        }

        report.Note("pod_floor_parts", $"p50: sandbox spawn {Stats.Of(sandboxes.Skip(options.Warmup).ToList())!.P50:F2} ms, container spawn "
            + $"{Stats.Of(containers.Skip(options.Warmup).ToList())!.P50:F2} ms, CNI ADD {Stats.Of(adds)!.P50:F2} ms (the overlay mount is overlay_mount's kind)");
    }

    private static async Task IpAsync(params string[] arguments)
    {
        var (exit, output) = await TestNetwork.CaptureAsync("ip", arguments);
        if (exit != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed ({exit}): {output}");
        }
    }

    /// <summary>bench/SpawnFloor's samples (warm-up ones first) of berth-shim's spawn into a <paramref name="kind"/>'s new namespaces.</summary>
    private async Task<IReadOnlyList<double>> ShimSpawnsAsync(string kind)
    {
        var shim = Path.Combine(Path.GetDirectoryName(options.Berthd)!, "berth-shim");
        using var floor = Process.Start(new ProcessStartInfo(options.SpawnFloor, [shim, (options.Warmup + options.Runs).ToString(), kind])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
        })!;
        var samples = (await floor.StandardOutput.ReadToEndAsync(cancellation))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => double.Parse(line, System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        await floor.WaitForExitAsync(cancellation);
        return floor.ExitCode == 0 && samples.Count == options.Warmup + options.Runs
            ? samples
            : throw new InvalidOperationException($"spawn-floor {kind} exited {floor.ExitCode} after {samples.Count} samples");
    }

    /// <summary>A bare one-lower overlay under a directory of its own, mounted and unmounted once per sample on fresh upper and work directories.</summary>
    private sealed class BareOverlay
    {
        private readonly string _directory;
        private readonly string _lower;
        private readonly string _merged;

        public BareOverlay(string directory)
        {
            _directory = directory;
            _lower = Path.Combine(directory, "lower");
            Directory.CreateDirectory(Path.Combine(_lower, "bin"));
            File.WriteAllText(Path.Combine(_lower, "bin", "file"), "x");
            _merged = Path.Combine(directory, "merged");
            Directory.CreateDirectory(_merged);
        }

        /// <summary>Milliseconds of mount(2) and of umount(2).</summary>
        public (double Mount, double Umount) MountOnce(int sample)
        {
            var upper = Path.Combine(_directory, $"upper{sample}");
            var work = Path.Combine(_directory, $"work{sample}");
            Directory.CreateDirectory(upper);
            Directory.CreateDirectory(work);
            var t0 = Stopwatch.GetTimestamp();
            Native.Mount("overlay", _merged, "overlay", $"lowerdir={_lower},upperdir={upper},workdir={work}");
            var mount = Ms(t0);
            var t1 = Stopwatch.GetTimestamp();
            Native.Unmount(_merged);
            return (mount, Ms(t1));
        }
    }
}
