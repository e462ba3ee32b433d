using System.Diagnostics;
using System.Text.Json;
using Berth.RuntimeService.Hosting;
using OpenTelemetry;

namespace Berth.Tests.Unit.Hosting;

public sealed class SpanFileExporterTests
{
    [Fact]
    public void EachSpanIsOneJsonLineWithItsParentAndTimes()
    {
        var file = Path.Combine(Path.GetTempPath(), $"berth-spans-{Guid.NewGuid():N}.jsonl");
        try
        {
            var start = new DateTime(2026, 11, 30, 1, 2, 3, DateTimeKind.Utc);
            var parent = new Activity("/runtime.v1.RuntimeService/CreateContainer").SetStartTime(start);
            parent.Start();
            var child = new Activity("shim.spawn").SetParentId(parent.TraceId, parent.SpanId).SetStartTime(start.AddMilliseconds(2));
            child.Start();
            child.SetEndTime(start.AddMilliseconds(3.5));
            parent.SetEndTime(start.AddMilliseconds(10));
            using (var exporter = new SpanFileExporter(file))
            {
                Assert.Equal(ExportResult.Success, exporter.Export(new Batch<Activity>([child, parent], 2)));
            }

            var lines = File.ReadAllLines(file);
            Assert.Equal(2, lines.Length);
            var first = JsonDocument.Parse(lines[0]).RootElement;
            var second = JsonDocument.Parse(lines[1]).RootElement;
            Assert.Equal("shim.spawn", first.GetProperty("name").GetString());
            Assert.Equal(parent.SpanId.ToHexString(), first.GetProperty("parent").GetString());
            Assert.Equal(parent.TraceId.ToHexString(), first.GetProperty("trace").GetString());
            Assert.Equal((start.AddMilliseconds(2) - DateTime.UnixEpoch).Ticks * 100, first.GetProperty("start").GetInt64());
            Assert.Equal(1.5, first.GetProperty("ms").GetDouble(), 6);
            Assert.False(second.TryGetProperty("parent", out _));
            Assert.Equal(10, second.GetProperty("ms").GetDouble(), 6);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
