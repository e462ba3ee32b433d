using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Berth.Bench;

/// <summary>The rows, the floor, the notes; printed as one table and written as JSON.</summary>
public sealed class Report
{
    private readonly List<Row> _rows =
    [
        new("sandbox_start", "ms", "RunPodSandbox, the pod on the CNI network"),
        new("sandbox_hostnet", "ms", "RunPodSandbox of a host-network pod (no CNI)"),
        new("container_create", "ms", "CreateContainer (busybox sleep 3600)"),
        new("container_start", "ms", "StartContainer"),
        new("pod_to_running", "ms", "RunPodSandbox + CreateContainer + StartContainer"),
        new("exec_sync", "ms", "ExecSync of `true` in the running container"),
        new("exec_session", "ms", "Exec of `true` over SPDY: the Exec call, the upgrade, the streams, until the exit status"),
        new("stop_remove", "ms", "StopPodSandbox + RemovePodSandbox, the container still running (containerd kills it at once)"),
        new("rpc_version", "ms", "Version: one gRPC round trip, the floor of every call"),
        new("parallel_start", "ms", "N pods started at once, wall time until all run"),
        new("density_start", "s", "starting the density pods one by one (sum of pod_to_running)"),
        new("pod_start_flatness", "x", "pod_to_running p50 of the last 20 density pods over that of the first 20 (1 = flat as the node fills)"),
        new("shim_pss", "MiB", "PSS of one shim process (smaps_rollup), with the density pods"),
        new("shim_rss", "MiB", "RSS of one shim process, with the density pods"),
        new("pod_overhead_pss", "MiB", "PSS per pod of everything the runtime runs for it but the workload: shims, pause/reaper"),
        new("daemon_rss_idle", "MiB", "daemon RSS with no pod, after the latency rows"),
        new("daemon_rss", "MiB", "daemon RSS with the density pods"),
        new("list", "ms", "ListPodSandbox + ListContainers with the density pods (a kubelet relist)"),
        new("list_pod_sandbox", "ms", "ListPodSandbox with the density pods"),
        new("list_containers", "ms", "ListContainers with the density pods"),
        new("list_container_stats", "ms", "ListContainerStats with the density pods (kubelet's summary, every 10-15 s)"),
        new("list_pod_sandbox_stats", "ms", "ListPodSandboxStats with the density pods"),
        new("daemon_cpu_idle", "%", "daemon CPU (one core = 100; its process CPU clock, ns) per 10 s window with the density pods and no call, 3 windows"),
        new("density_teardown", "s", "removing the density pods, 4 at a time: StopContainer (timeout 0), StopPodSandbox, RemovePodSandbox"),
        new("cold_pull", "ms", "PullImage of the big image after RemoveImage"),
        new("exec_probe_cpu", "s", "CPU of daemon + shims (+ reaped children: exec stages, runc) for 200 ExecSync `true`, as kubelet's exec probes"),
    ];

    private readonly List<FloorRow> _floor =
    [
        new("overlay_mount", "ms", "mount(2) of a bare one-lower overlay"),
        new("overlay_umount", "ms", "umount(2) of it"),
        new("spawn_true", "ms", "Process.Start(/bin/true) until it has exited"),
        new("shim_spawn_namespaces", "ms", "berth-shim's own spawn path into new pid, mount, net, ipc, uts namespaces, no mounts, until reaped"),
        new("pod_floor", "ms", "what a pod start cannot avoid: spawns into a sandbox's and a container's new namespaces, an overlay mount, CNI ADD of the bench conflist"),
    ];

    private readonly Dictionary<string, string> _notes = [];

    /// <summary>Every row and floor row name, for --only.</summary>
    public static IReadOnlyList<string> RowNames { get; } = [.. new Report()._rows.Select(r => r.Key), .. new Report()._floor.Select(f => f.Key)];

    public void Add(string row, string runtime, double value) => Find(row).Samples(runtime).Add(value);

    public void Add(string row, string runtime, IEnumerable<double> values) => Find(row).Samples(runtime).AddRange(values);

    public void AddFloor(string row, double value) => _floor.Single(f => f.Key == row).Samples.Add(value);

    public void Note(string key, string text) => _notes[key] = text;

    private Row Find(string key) => _rows.Single(r => r.Key == key);

    /// <summary>
    /// Notes each runtime's p50 of <paramref name="row"/> as a multiple of the floor row <paramref name="floor"/>'s p50
    /// (the goal for pod_to_running: at most 4 times pod_floor); nothing when either was not measured.
    /// </summary>
    public void NoteOverFloor(string row, string floor)
    {
        if (Stats.Of(_floor.Single(f => f.Key == floor).Samples) is not { } floorStats)
        {
            return;
        }
        var measured = Find(row);
        var parts = new[] { ("berth", measured.Berth), ("containerd", measured.Containerd) }
            .Where(part => part.Item2.Count > 0)
            .Select(part => $"{part.Item1} {Stats.Of(part.Item2)!.P50 / floorStats.P50:F2}")
            .ToList();
        if (parts.Count > 0)
        {
            Note($"{row}_over_{floor}", $"{row} p50 / {floor} p50 ({F(floorStats.P50)} ms): {string.Join(", ", parts)}");
        }
    }

    public string Table()
    {
        var text = new StringBuilder();
        string Cells(Stats? s) => s is null
            ? $"{"-",8} {"",8} {"",8} {"",8}"
            : $"{F(s.P50),8} {F(s.Min),8} {F(s.P90),8} {F(s.Max),8}";
        var header = $"{"row",-22} {"unit",-4} | {"berth p50",9} {"min",8} {"p90",8} {"max",8} | {"ctrd p50",9} {"min",8} {"p90",8} {"max",8} | {"berth/ctrd",10}";
        text.AppendLine(header);
        text.AppendLine(new string('-', header.Length));
        foreach (var row in _rows.Where(r => r.Berth.Count > 0 || r.Containerd.Count > 0))
        {
            var ratio = row.RatioP50 is { } r ? r.ToString("F2", CultureInfo.InvariantCulture) : "-";
            text.AppendLine($"{row.Key,-22} {row.Unit,-4} | {" " + Cells(Stats.Of(row.Berth))} | {" " + Cells(Stats.Of(row.Containerd))} | {ratio,10}");
        }

        if (_floor.Any(f => f.Samples.Count > 0))
        {
            text.AppendLine();
            text.AppendLine("physical floor (no runtime)        p50      min      p90      max");
            foreach (var row in _floor.Where(f => Stats.Of(f.Samples) is not null))
            {
                var s = Stats.Of(row.Samples)!;
                text.AppendLine($"  {row.Key,-18} {row.Unit,-4}       {F(s.P50),8} {F(s.Min),8} {F(s.P90),8} {F(s.Max),8}   {row.Description}");
            }
        }

        text.AppendLine();
        foreach (var row in _rows.Where(r => r.Berth.Count > 0 || r.Containerd.Count > 0))
        {
            text.AppendLine($"  {row.Key,-22} {row.Description} (n = {row.Berth.Count}/{row.Containerd.Count})");
        }

        foreach (var (key, value) in _notes)
        {
            text.AppendLine($"  {key}: {value}");
        }

        return text.ToString();
    }

    public JsonObject Json(JsonObject machine, JsonObject settings, string? error)
    {
        var json = new JsonObject
        {
            ["date"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["machine"] = machine,
            ["settings"] = settings,
        };
        foreach (var row in _rows.Where(r => r.Berth.Count > 0 || r.Containerd.Count > 0))
        {
            json[row.Key] = new JsonObject
            {
                ["unit"] = row.Unit,
                ["description"] = row.Description,
                ["berth"] = StatsJson(Stats.Of(row.Berth)),
                ["containerd"] = StatsJson(Stats.Of(row.Containerd)),
                ["ratio_p50"] = row.RatioP50 is { } r ? Math.Round(r, 4) : null,
            };
        }

        var floor = new JsonObject();
        foreach (var row in _floor.Where(f => f.Samples.Count > 0))
        {
            var stats = StatsJson(Stats.Of(row.Samples))!.AsObject();
            stats["unit"] = row.Unit;
            stats["description"] = row.Description;
            floor[row.Key] = stats;
        }

        json["floor"] = floor;
        json["notes"] = new JsonObject(_notes.Select(n => KeyValuePair.Create(n.Key, (JsonNode?)n.Value)));
        if (error is not null)
        {
            json["error"] = error;
        }

        return json;
    }

    public static string Serialize(JsonObject json) => json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    private static JsonNode? StatsJson(Stats? s) => s is null ? null : new JsonObject
    {
        ["n"] = s.N,
        ["min"] = Math.Round(s.Min, 4),
        ["p50"] = Math.Round(s.P50, 4),
        ["p90"] = Math.Round(s.P90, 4),
        ["max"] = Math.Round(s.Max, 4),
    };

    private static string F(double value) => value.ToString(Math.Abs(value) >= 100 ? "F0" : Math.Abs(value) >= 10 ? "F1" : Math.Abs(value) >= 1 ? "F2" : "F3", CultureInfo.InvariantCulture);
}
