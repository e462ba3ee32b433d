using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Berth.Core;

/// <summary>The daemon's one trace source and meter; berthd exports both (OTLP, Prometheus).</summary>
public static class Telemetry
{
    public const string Name = "Berth";
    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);
    public static readonly Counter<long> BytesPulled = Meter.CreateCounter<long>("berth.image.pull.bytes", "By", "Compressed layer bytes pulled from registries");
    public static readonly Counter<long> BytesPushed = Meter.CreateCounter<long>("berth.image.push.bytes", "By", "Blob bytes uploaded to registries by pushes (not those skipped or mounted)");
    public static readonly Histogram<double> PullDuration = Meter.CreateHistogram<double>("berth.image.pull.duration", "s", "Time from PullImage to the image being committed");
    public static readonly Histogram<double> RpcDuration = Meter.CreateHistogram<double>("berth.rpc.duration", "s", "CRI call latency, server side");
    public static readonly Histogram<double> CniPluginDuration = Meter.CreateHistogram<double>("berth.cni.plugin.duration", "s", "Time of one CNI plugin call, by command (ADD, DEL, CHECK, STATUS, GC, VERSION), plugin type and outcome");
    public static readonly Histogram<double> StatsCollectDuration = Meter.CreateHistogram<double>("berth.stats.collect.duration", "s", "Time of one pass of the stats collector over every container and pod");
    public static readonly Counter<long> AuthorityRewrittenConnections = Meter.CreateCounter<long>("berth.cri.authority_rewritten_connections", "{connection}", "CRI connections whose socket-path HTTP/2 :authority berthd rewrote so that Kestrel accepts it, counted once per connection at its first rewrite");
}
