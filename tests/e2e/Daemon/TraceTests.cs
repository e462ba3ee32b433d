using System.Text.Json;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Pods;
using static Berth.Tests.E2e.Pods.PodTestSupport;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Daemon;

/// <summary>BERTH_TRACE_FILE: berthd's spans of a pod start as JSON lines, the shim's own steps among them.</summary>
public sealed class TraceTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    private sealed record Span(string Name, string Trace, string Id, string? Parent, long Start, double Ms)
    {
        public long End => Start + (long)(Ms * 1e6);
    }

    [Fact]
    public async Task APodStartIsTracedStepByStepInsideTheShimToo()
    {
        var directory = Directory.CreateTempSubdirectory("berth-e2e-trace-");
        try
        {
            string file = Path.Combine(directory.FullName, "trace.jsonl");
            await using var berth = await BerthDaemon.StartAsync(environment: new Dictionary<string, string> { ["BERTH_TRACE_FILE"] = file });
            await berth.PullAsync(registry.Busybox.Reference);
            var pod = PodConfig(berth);
            var podId = await berth.RunPodAsync(pod);
            var containerId = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "main", "sleep", "300"));
            await berth.StartContainerAsync(containerId);
            await berth.RemovePodAsync(podId);

            // The exporter writes in batches, about every second.
            var spans = await SpansAsync(file, spans => spans.Any(s => s.Name.EndsWith("/RemovePodSandbox", StringComparison.Ordinal)));
            var runPod = Below(spans, Root(spans, "RunPodSandbox"));
            var create = Below(spans, Root(spans, "CreateContainer"));
            foreach (string step in new[] { "sandbox.plan", "state.sqlite_write", "sandbox.bundle", "netns.create", "cni.add", "cni.ADD bridge",
                "shim.process_start", "shim.connect", "shim.create_call", "shim.load_bundle", "shim.listen", "shim.cgroup", "shim.spawn", "shim.stage", "shim.pin", "cgroup.adopt" })
            {
                Assert.Contains(runPod, s => s.Name == step);
            }
            foreach (string step in new[] { "container.image", "container.plan", "state.sqlite_write", "container.bundle",
                "shim.process_start", "shim.create_call", "shim.await_create", "shim.cgroup", "shim.spawn", "shim.stage", "cgroup.adopt" })
            {
                Assert.Contains(create, s => s.Name == step);
            }
            // The shim's steps hang below berthd's call to it and lie inside it on the node's clock (1 ms of slack for rounding).
            var call = create.Single(s => s.Name == "shim.create_call");
            foreach (var step in create.Where(s => s.Name is "shim.cgroup" or "shim.spawn" or "shim.stage"))
            {
                Assert.Equal(call.Id, step.Parent);
                Assert.InRange(step.Start, call.Start - 1_000_000, call.End + 1_000_000);
                Assert.InRange(step.End, step.Start, call.End + 1_000_000);
            }
            Assert.Empty(Traces(berth, pod));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static Span Root(IReadOnlyList<Span> spans, string call) =>
        Assert.Single(spans, s => s.Name.EndsWith("/" + call, StringComparison.Ordinal));

    private static List<Span> Below(IReadOnlyList<Span> spans, Span root)
    {
        var found = new List<Span>();
        var pending = new Queue<Span>([root]);
        while (pending.TryDequeue(out var parent))
        {
            foreach (var child in spans.Where(s => s.Trace == parent.Trace && s.Parent == parent.Id))
            {
                found.Add(child);
                pending.Enqueue(child);
            }
        }
        return found;
    }

    private static async Task<IReadOnlyList<Span>> SpansAsync(string file, Func<IReadOnlyList<Span>, bool> complete)
    {
        for (int attempt = 0; ; attempt++)
        {
            var spans = File.Exists(file) ? File.ReadAllLines(file).Where(line => line.Length > 0).Select(Parse).ToList() : [];
            if (complete(spans) || attempt == 100)
            {
                return spans;
            }
            await Task.Delay(100);
        }
    }

    private static Span Parse(string line)
    {
        using var json = JsonDocument.Parse(line);
        var e = json.RootElement;
        return new Span(e.GetProperty("name").GetString()!, e.GetProperty("trace").GetString()!, e.GetProperty("span").GetString()!,
            e.TryGetProperty("parent", out var parent) ? parent.GetString() : null, e.GetProperty("start").GetInt64(), e.GetProperty("ms").GetDouble());
    }
}
