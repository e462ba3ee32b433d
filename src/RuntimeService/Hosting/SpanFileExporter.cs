using System.Diagnostics;
using System.Text.Json;
using OpenTelemetry;

namespace Berth.RuntimeService.Hosting;

/// <summary>
/// Writes every finished span as one JSON line to a file (<c>BERTH_TRACE_FILE</c>): <c>name</c>,
/// <c>trace</c> and <c>span</c> IDs, <c>parent</c> (absent when there is none; a CRI call's span names
/// Kestrel's request activity, which is not exported), <c>start</c> in Unix nanoseconds and <c>ms</c>,
/// its duration. For the benchmark's <c>--trace</c> breakdown and for a person with
/// <c>jq</c>, where an OTLP collector would be too much. OpenTelemetry's console exporter prints text
/// meant for reading, not parsing, and the OTLP file exporter is not released for .NET; this is the few
/// lines that need. Appends, flushing after each batch, so a killed berthd leaves whole lines.
/// </summary>
public sealed class SpanFileExporter(string path) : BaseExporter<Activity>
{
    private readonly FileStream _file = new(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);

    public override ExportResult Export(in Batch<Activity> batch)
    {
        using var json = new Utf8JsonWriter(_file);
        foreach (var activity in batch)
        {
            json.WriteStartObject();
            json.WriteString("name", activity.DisplayName);
            json.WriteString("trace", activity.TraceId.ToHexString());
            json.WriteString("span", activity.SpanId.ToHexString());
            if (activity.ParentSpanId != default)
            {
                json.WriteString("parent", activity.ParentSpanId.ToHexString());
            }
            json.WriteNumber("start", (activity.StartTimeUtc - DateTime.UnixEpoch).Ticks * 100);
            json.WriteNumber("ms", activity.Duration.TotalMilliseconds);
            json.WriteEndObject();
            json.Flush();
            json.Reset();
            _file.WriteByte((byte)'\n');
        }
        _file.Flush();
        return ExportResult.Success;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
        }
        base.Dispose(disposing);
    }
}
