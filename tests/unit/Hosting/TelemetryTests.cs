using System.Diagnostics.Metrics;
using Berth.Core;

namespace Berth.Tests.Unit.Hosting;

public sealed class TelemetryTests
{
    [Fact]
    public void EveryHistogramInSecondsHasBucketsMadeForSeconds()
    {
        var histograms = typeof(Telemetry).GetFields().Select(field => field.GetValue(null)).OfType<Histogram<double>>().ToList();

        Assert.NotEmpty(histograms);
        Assert.All(histograms, histogram =>
        {
            Assert.Equal("s", histogram.Unit);
            Assert.Equal(Telemetry.SecondsBuckets, histogram.Advice?.HistogramBucketBoundaries);
        });
        Assert.Equal(Telemetry.SecondsBuckets.Order(), Telemetry.SecondsBuckets);
    }
}
