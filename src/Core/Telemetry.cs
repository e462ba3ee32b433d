using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Berth.Core;

/// <summary>The daemon's one trace source and meter; berthd exports both (OTLP, Prometheus).</summary>
public static class Telemetry
{
    public const string Name = "Berth";
    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);

    /// <summary>
    /// Bucket upper bounds, in seconds, of every duration histogram: from 0.1 ms (a CRI call answered from
    /// memory) to 5 min (a large pull). Without them OpenTelemetry uses its default bounds, made for
    /// milliseconds (0, 5, 10, 25 ... 10000), and every duration in seconds falls in the first two buckets.
    /// </summary>
    public static readonly IReadOnlyList<double> SecondsBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    public static readonly Counter<long> BytesPulled = Meter.CreateCounter<long>("berth.image.pull.bytes", "By", "Compressed layer bytes pulled from registries");
    public static readonly Counter<long> BytesPushed = Meter.CreateCounter<long>("berth.image.push.bytes", "By", "Blob bytes uploaded to registries by pushes (not those skipped or mounted)");
    public static readonly Histogram<double> PullDuration = Seconds("berth.image.pull.duration", "Time from PullImage to the image being committed");
    public static readonly Histogram<double> RpcDuration = Seconds("berth.rpc.duration", "CRI call latency, server side");
    public static readonly Histogram<double> CniPluginDuration = Seconds("berth.cni.plugin.duration", "Time of one CNI plugin call, by command (ADD, DEL, CHECK, STATUS, GC, VERSION), plugin type and outcome");
    public static readonly Histogram<double> StatsCollectDuration = Seconds("berth.stats.collect.duration", "Time of one pass of the stats collector over every container and pod");
    public static readonly Counter<long> AuthorityRewrittenConnections = Meter.CreateCounter<long>("berth.cri.authority_rewritten_connections", "{connection}", "CRI connections whose socket-path HTTP/2 :authority berthd rewrote so that Kestrel accepts it, counted once per connection at its first rewrite");

    /// <summary>A duration histogram in seconds, with <see cref="SecondsBuckets"/> as its advised bucket bounds (honoured by OpenTelemetry's exporters).</summary>
    private static Histogram<double> Seconds(string name, string description) =>
        Meter.CreateHistogram(name, "s", description, tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
}
