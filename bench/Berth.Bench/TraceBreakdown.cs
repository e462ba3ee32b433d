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

    /// <summary>
    /// The breakdown as text: one block per call kind, its spans indented by depth, for the calls that
    /// began in <paramref name="window"/>; with <paramref name="first"/> and <paramref name="last"/> (the
    /// first and last density pods), each span's p50 in those two as well: what grows as the node fills.
    /// </summary>
    public static string Describe(string traceFile, (DateTime From, DateTime To) window, (DateTime From, DateTime To)? first = null, (DateTime From, DateTime To)? last = null)
    {
        var spans = File.ReadLines(traceFile).Where(line => line.Length > 0).Select(Parse).ToList();
        var children = spans.Where(s => s.Parent is not null).ToLookup(s => (s.Trace, s.Parent!));
        var text = new StringBuilder();
        foreach (var call in Calls)
        {
            var (roots, paths) = Collect(spans, children, call, window);
            if (roots.Count == 0)
            {
                continue;
            }
            var (firstRoots, firstPaths) = first is { } f ? Collect(spans, children, call, f) : ([], new());
            var (lastRoots, lastPaths) = last is { } l ? Collect(spans, children, call, l) : ([], new());
            string Growth(List<Span> firstCalls, List<Span> lastCalls, List<double>? firstMs, List<double>? lastMs) =>
                first is null || firstCalls.Count == 0 || lastCalls.Count == 0 ? ""
                    : string.Create(CultureInfo.InvariantCulture, $" {(firstMs is null ? "-" : Median(firstMs).ToString("F2", CultureInfo.InvariantCulture)),10} {(lastMs is null ? "-" : Median(lastMs).ToString("F2", CultureInfo.InvariantCulture)),10}");
            text.AppendLine(CultureInfo.InvariantCulture, $"{call,-44} {"p50 ms",8} {"at ms",8} {"calls",6}{(first is null ? "" : $" {"first p50",10} {"last p50",10}")}");
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"  {"(the whole call, server side)",-42} {Median(roots.Select(r => r.Ms)),8:F2} {0,8:F2} {roots.Count,6}")
                + Growth(firstRoots, lastRoots, [.. firstRoots.Select(r => r.Ms)], [.. lastRoots.Select(r => r.Ms)]));
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
                text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{label,-44} {Median(entry.Ms),8:F2} {Median(entry.Offset),8:F2} {entry.Ms.Count,6}")
                    + Growth(firstRoots, lastRoots, firstPaths.TryGetValue(path, out var inFirst) ? inFirst.Ms : null,
                        lastPaths.TryGetValue(path, out var inLast) ? inLast.Ms : null));
            }
        }
        return text.ToString();
    }

    /// <summary>The calls named <paramref name="call"/> that began in the window, and per path of span names below them each call's summed time and earliest start after the call's.</summary>
    private static (List<Span> Roots, Dictionary<string, (int Depth, List<double> Ms, List<double> Offset)> Paths) Collect(
        List<Span> spans, ILookup<(string, string), Span> children, string call, (DateTime From, DateTime To) window)
    {
        long fromNs = (window.From - DateTime.UnixEpoch).Ticks * 100;
        long toNs = (window.To - DateTime.UnixEpoch).Ticks * 100;
        var roots = spans
            .Where(s => s.Name.EndsWith("/" + call, StringComparison.Ordinal) && s.Start >= fromNs && s.Start <= toNs)
            .Where(root => call != "RunPodSandbox" || Below(root, children).Any(s => s.Span.Name == "cni.add"))
            .ToList();
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
        return (roots, paths);
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
