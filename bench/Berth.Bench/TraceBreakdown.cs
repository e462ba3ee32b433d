using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Berth.Bench;

/// <summary>
/// <c>--trace</c>: where berthd's pod starts went, from the spans it wrote to <c>BERTH_TRACE_FILE</c>
/// (one JSON object a line: name, trace, span, parent, start in Unix ns, ms; see
/// src/RuntimeService/Hosting/SpanFileExporter.cs). For each of RunPodSandbox (pods on the CNI network:
/// those with a <c>cni.add</c> span), CreateContainer and StartContainer whose call began inside the
/// recorded window, every span below it by its path of names: the median over the calls of its time
/// per call (spans of one name under one call summed) and of where it began after the call did, so
/// that steps running side by side (CNI ADD beside the shim's create) show as such.
/// </summary>
public static class TraceBreakdown
{
    private static readonly string[] Calls = ["RunPodSandbox", "CreateContainer", "StartContainer"];

    private sealed record Span(string Name, string Trace, string Id, string? Parent, long Start, double Ms);

    /// <summary>The breakdown as text: one block per call kind, its spans indented by depth.</summary>
    public static string Describe(string traceFile, DateTime from, DateTime to)
    {
        var spans = File.ReadLines(traceFile).Where(line => line.Length > 0).Select(Parse).ToList();
        var children = spans.Where(s => s.Parent is not null).ToLookup(s => (s.Trace, s.Parent!));
        long fromNs = (from - DateTime.UnixEpoch).Ticks * 100;
        long toNs = (to - DateTime.UnixEpoch).Ticks * 100;
        var text = new StringBuilder();
        foreach (var call in Calls)
        {
            var roots = spans
                .Where(s => s.Parent is null && s.Name.EndsWith("/" + call, StringComparison.Ordinal) && s.Start >= fromNs && s.Start <= toNs)
                .Where(root => call != "RunPodSandbox" || Below(root, children).Any(s => s.Span.Name == "cni.add"))
                .ToList();
            if (roots.Count == 0)
            {
                continue;
            }
            // per path of names: each call's summed time and earliest offset
            var paths = new Dictionary<string, (int Depth, List<double> Ms, List<double> Offset)>();
            foreach (var root in roots)
            {
                foreach (var group in Below(root, children).GroupBy(s => s.Path))
                {
                    if (!paths.TryGetValue(group.Key, out var entry))
                    {
                        entry = (group.First().Depth, [], []);
                        paths[group.Key] = entry;
                    }
                    entry.Ms.Add(group.Sum(s => s.Span.Ms));
                    entry.Offset.Add(group.Min(s => s.Span.Start - root.Start) / 1e6);
                }
            }
            text.AppendLine(CultureInfo.InvariantCulture, $"{call,-44} {"p50 ms",8} {"at ms",8} {"calls",6}");
            text.AppendLine(CultureInfo.InvariantCulture, $"  {"(the whole call, server side)",-42} {Median(roots.Select(r => r.Ms)),8:F2} {0,8:F2} {roots.Count,6}");
            // tree order: by the median start of each ancestor, then of the span itself
            string Order(string path)
            {
                var names = path.Split('/');
                return string.Join('/', Enumerable.Range(1, names.Length).Select(n => string.Join('/', names[..n]))
                    .Select(prefix => Median(paths[prefix].Offset).ToString("000000.000", CultureInfo.InvariantCulture) + prefix));
            }
            foreach (var (path, entry) in paths.OrderBy(p => Order(p.Key), StringComparer.Ordinal))
            {
                string label = new string(' ', 2 * entry.Depth) + path.Split('/')[^1];
                text.AppendLine(CultureInfo.InvariantCulture, $"{label,-44} {Median(entry.Ms),8:F2} {Median(entry.Offset),8:F2} {entry.Ms.Count,6}");
            }
        }
        return text.ToString();
    }

    /// <summary>Every span below <paramref name="root"/>, with its depth (1 for a child) and its path of names from the root's child down.</summary>
    private static IEnumerable<(Span Span, int Depth, string Path)> Below(Span root, ILookup<(string, string), Span> children)
    {
        var pending = new Stack<(Span Span, int Depth, string Path)>(children[(root.Trace, root.Id)].Select(c => (c, 1, c.Name)));
        while (pending.TryPop(out var item))
        {
            yield return item;
            foreach (var child in children[(item.Span.Trace, item.Span.Id)])
            {
                pending.Push((child, item.Depth + 1, item.Path + "/" + child.Name));
            }
        }
    }

    private static Span Parse(string line)
    {
        using var json = JsonDocument.Parse(line);
        var e = json.RootElement;
        return new Span(e.GetProperty("name").GetString()!, e.GetProperty("trace").GetString()!, e.GetProperty("span").GetString()!,
            e.TryGetProperty("parent", out var parent) ? parent.GetString() : null, e.GetProperty("start").GetInt64(), e.GetProperty("ms").GetDouble());
    }

    private static double Median(IEnumerable<double> values) => Stats.Of(values.ToList())!.P50;
}
