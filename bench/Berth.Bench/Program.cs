using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Berth.Bench;
using Berth.Tests.E2e.Fixtures;

// berthd beside containerd 1.6 on this machine: see bench/README.md. A benchmark, not a test:
// it exits 0 unless something broke (a call failed, a daemon died), and cleans up either way.
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    if (e.Message.Length > 0)
    {
        Console.Error.WriteLine(e.Message);
    }

    Console.Error.WriteLine(BenchOptions.Usage);
    return e.Message.Length == 0 ? 0 : 2;
}

if (!File.Exists(options.Berthd))
{
    Console.Error.WriteLine($"no berthd at {options.Berthd}: run `make build` first, or pass --berthd");
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    Bench.Log("interrupted: cleaning up");
    cancel.Cancel();
};
using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    Bench.Log("terminated: cleaning up");
    cancel.Cancel();
});

var runId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
var cgroupRoot = $"berth-bench-{runId}";
var directory = Directory.CreateTempSubdirectory("berth-bench-").FullName;
var report = new Report();
var bench = new Bench(options, report, cgroupRoot, cancel.Token);
var machine = Machine.Describe();
string? error = null;
RegistryServer? registry = null;
TestNetwork? network = null;
BerthRuntime? berth = null;
ContainerdRuntime? containerd = null;
var started = DateTime.UtcNow;
var traceFile = Path.Combine(directory, "berth-trace.jsonl");
string? breakdown = null;
(DateTime From, DateTime To)? latencyWindow = null;
try
{
    Bench.Log($"work directory {directory}; pods {options.Pods}, runs {options.Runs}");
    if (options.Wants("overlay_mount", "overlay_umount", "spawn_true", "shim_spawn_namespaces"))
    {
        await bench.FloorAsync(Path.Combine(directory, "floor"));
    }

    registry = await RegistryServer.StartAsync();
    Bench.Log($"registry on {registry.Host}; building and pushing images");
    bench.Images = await BenchImages.PushAsync(registry, options.BigMegabytes);

    // One network for both runtimes: the same conflist, one bridge, one host-local store.
    network = await TestNetwork.CreateAsync(Path.Combine(directory, "network"), wide: true);
    network.WriteConfig(new JsonObject { ["type"] = "portmap", ["capabilities"] = new JsonObject { ["portMappings"] = true } });
    string conflist = File.ReadAllText(network.ConfigPath);
    Bench.Log($"CNI network {network.Name}: bridge {network.Bridge}, {network.Subnet}");
    if (options.Wants("pod_floor"))
    {
        await bench.PodFloorAsync(Path.Combine(directory, "pod-floor"), conflist);
    }

    if (options.Trace)
    {
        // berthd inherits it; containerd ignores it.
        Environment.SetEnvironmentVariable("BERTH_TRACE_FILE", traceFile);
    }

    berth = await BerthRuntime.StartAsync(Path.Combine(directory, "berth"), options.Berthd, BenchImages.Name, registry.Host, conflist);
    containerd = await ContainerdRuntime.StartAsync(Path.Combine(directory, "containerd"), BenchImages.Name, registry.Host, bench.Images.Pause, conflist);
    machine["berth"] = berth.VersionText;
    machine["containerd"] = containerd.VersionText;
    Bench.Log($"{berth.VersionText} (pid {berth.DaemonPid}) and {containerd.VersionText} (pid {containerd.DaemonPid}) are up");

    // Not timed: the images every pod needs, in both runtimes (containerd's sandbox image too).
    await bench.PullAsync(berth, bench.Images.Busybox);
    await bench.PullAsync(containerd, bench.Images.Busybox);
    await bench.PullAsync(containerd, bench.Images.Pause);

    if (options.Wants("sandbox_start", "sandbox_hostnet", "container_create", "container_start", "pod_to_running", "exec_sync", "exec_session", "stop_remove", "rpc_version"))
    {
        await bench.LatencyAsync(berth, containerd);
        latencyWindow = (bench.RecordedFrom, DateTime.UtcNow);
    }

    if (options.Wants("exec_probe_cpu"))
    {
        await bench.ExecProbeCpuAsync(berth, containerd);
    }

    if (options.Wants("parallel_start"))
    {
        await bench.ParallelAsync(berth, containerd);
    }

    if (options.Wants("density_start", "pod_start_flatness", "shim_pss", "shim_rss", "pod_overhead_pss", "daemon_rss_idle", "daemon_rss", "list", "list_pod_sandbox",
        "list_containers", "list_container_stats", "list_pod_sandbox_stats", "daemon_cpu_idle", "density_teardown"))
    {
        await bench.DensityAsync(berth, containerd);
    }

    if (options.Wants("cold_pull"))
    {
        await bench.ColdPullAsync(berth, containerd);
    }

    if (options.Trace && latencyWindow is { } window)
    {
        // berthd's exporter writes in batches every second
        await Task.Delay(2500, cancel.Token);
        breakdown = TraceBreakdown.Describe(traceFile, window, bench.FirstDensityPods, bench.LastDensityPods);
        Directory.CreateDirectory(options.Results);
        File.Copy(traceFile, Path.Combine(options.Results, $"trace-{DateTime.UtcNow:yyyyMMdd-HHmmss}.jsonl"));
    }
}
catch (Exception e)
{
    error = cancel.IsCancellationRequested ? "interrupted" : e.ToString();
    Console.Error.WriteLine($"[bench] FAILED: {e}");
    foreach (var runtime in new RuntimeUnderTest?[] { berth, containerd })
    {
        if (runtime is not null)
        {
            Console.Error.WriteLine($"[bench] {runtime.Name} output:\n{runtime.OutputTail()}");
        }
    }
}
finally
{
    if (error is not null && int.TryParse(Environment.GetEnvironmentVariable("BERTH_BENCH_LINGER"), out var linger))
    {
        Bench.Log($"BERTH_BENCH_LINGER: {linger} s to look around before cleaning up");
        await Task.Delay(TimeSpan.FromSeconds(linger), CancellationToken.None);
    }

    Bench.Log("cleaning up");
    foreach (var cleanup in new Func<ValueTask>[]
    {
        () => containerd?.DisposeAsync() ?? ValueTask.CompletedTask,
        () => berth?.DisposeAsync() ?? ValueTask.CompletedTask,
        () => registry?.DisposeAsync() ?? ValueTask.CompletedTask,
        () => network?.DisposeAsync() ?? ValueTask.CompletedTask,
    })
    {
        try
        {
            await cleanup();
        }
        catch (Exception e)
        {
            error ??= $"cleanup: {e.Message}";
            Console.Error.WriteLine($"[bench] cleanup: {e.Message}");
        }
    }

    Cleanup.RemoveCgroups(cgroupRoot);
    try
    {
        Leftovers.UnmountEverythingUnder(directory);
        Directory.Delete(directory, recursive: true);
    }
    catch (Exception e)
    {
        error ??= $"cleanup: {e.Message}";
        Console.Error.WriteLine($"[bench] cleanup of {directory}: {e.Message}");
    }
}

machine["loadavg_end"] = File.ReadAllText("/proc/loadavg").Trim();
var settings = new JsonObject
{
    ["pods"] = options.Pods,
    ["runs"] = options.Runs,
    ["warmup"] = options.Warmup,
    ["parallel"] = options.Parallel,
    ["parallel_runs"] = options.ParallelRuns,
    ["pull_runs"] = options.PullRuns,
    ["probe_runs"] = options.ProbeRuns,
    ["only"] = options.Only is null ? null : string.Join(",", options.Only),
    ["big_image"] = bench.Images?.Big,
    ["big_image_bytes"] = bench.Images?.BigBytes,
    ["network"] = Bench.NetworkNote,
    ["containerd_pause_image"] = File.Exists("/usr/bin/catatonit") ? "catatonit -P (Debian, static)" : "busybox sleep (catatonit missing)",
    ["wall_seconds"] = Math.Round((DateTime.UtcNow - started).TotalSeconds, 1),
};

report.NoteOverFloor("pod_to_running", "pod_floor");
Console.WriteLine();
Console.WriteLine($"berth vs containerd: {machine["berth"]} / {machine["containerd"]}; {machine["cpu"]}, {machine["cpus"]} cpus; {options.Pods} pods; {options.Runs} runs; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
Console.WriteLine($"network: {Bench.NetworkNote}");
Console.WriteLine();
Console.Write(report.Table());
if (breakdown is not null)
{
    Console.WriteLine();
    Console.WriteLine("berthd's trace of the latency rows' pod starts (--trace): median per call, \"at\" = start after the call began;");
    Console.WriteLine($"first and last p50: the same in the first and last {Bench.FlatnessWindow} density pods (where pod_start_flatness comes from)");
    Console.Write(breakdown);
}

var json = report.Json(machine, settings, error);
Directory.CreateDirectory(options.Results);
var file = Path.Combine(options.Results, $"bench-{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
File.WriteAllText(file, Report.Serialize(json));
Console.WriteLine($"\nwritten {file}");
if (error is not null)
{
    Console.Error.WriteLine($"[bench] something broke: {error.Split('\n')[0]}");
    return 1;
}

return 0;
