using System.Net;
using System.Text.Json.Serialization;
using Berth.ImageService.Registry;
using Berth.RuntimeService.Network;
using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Configuration;

/// <summary>
/// /etc/berth/config.json. Every key is optional: these defaults are what berthd runs with when the
/// file is absent. Unknown keys are refused at start (see <see cref="ConfigLoader"/>). Setters, not
/// init: the JSON source generator sets init-only properties that the file omits to default(T).
/// </summary>
public sealed record BerthConfig
{
    /// <summary>Where the CRI gRPC server listens: unix://ABSOLUTE-PATH.</summary>
    public string Listen { get; set; } = "unix:///run/berth/berth.sock";

    /// <summary>
    /// Where the admin API (berth.admin.v1, for berthctl) listens: unix://ABSOLUTE-PATH; by default admin.sock in
    /// <see cref="State"/>. The socket is root's alone (mode 0600): it can change the node's images.
    /// </summary>
    public string? AdminListen { get; set; }

    /// <summary>Persistent state: database, content store, snapshots, writable layers.</summary>
    public string Root { get; set; } = "/var/lib/berth";

    /// <summary>
    /// Image archives (docker-archive or OCI layout tars, plain or gzip) dropped here are loaded at start and when
    /// they appear, once each, as k3s's agent/images does for air-gapped nodes; by default import/ under <see cref="Root"/>.
    /// </summary>
    public string? ImportDirectory { get; set; }

    /// <summary>Runtime state that a reboot clears: bundles, shim sockets, namespace pins.</summary>
    public string State { get; set; } = "/run/berth";

    /// <summary>
    /// Whether the CRI socket rewrites a socket-path HTTP/2 :authority (sent by Go clients older than kubelet and
    /// crictl 1.31) into one Kestrel accepts, instead of letting Kestrel refuse the call.
    /// </summary>
    public bool RewriteSocketAuthority { get; set; } = true;

    /// <summary>Optional loopback HOST:PORT serving Prometheus text at /metrics.</summary>
    public string? MetricsAddress { get; set; }

    /// <summary>Per registry host: mirrors, TLS and credentials.</summary>
    public Dictionary<string, RegistryHostConfig> Registries { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The credentials berthctl login keeps (a root-only 0600 JSON file shaped as <see cref="Registries"/>' credentials);
    /// by default auth.json under <see cref="Root"/>: persistent like the images it serves, and outside /etc/berth, which
    /// stays the operator's (configuration management may own it). Read again when it changes, without a restart.
    /// </summary>
    public string? LoginFile { get; set; }

    /// <summary>A pushed blob larger than this many bytes is uploaded in PATCH chunks of this size, a smaller one in one PUT.</summary>
    public long PushChunkBytes { get; set; } = 16 << 20;

    /// <summary>Layers downloaded at once across all pulls.</summary>
    public int MaxConcurrentDownloads { get; set; } = 3;

    /// <summary>A pull whose download receives no byte for this long fails instead of hanging.</summary>
    public int PullProgressTimeoutSeconds { get; set; } = 60;

    /// <summary>
    /// Seconds between two samples of every container's and pod's usage (containerd's stats_collect_period,
    /// 10 s): List*Stats answer from the last two, and usage_nano_cores is the CPU rate between them.
    /// </summary>
    public int StatsCollectPeriodSeconds { get; set; } = 10;

    /// <summary>
    /// Container events a GetContainerEvents subscriber may have waiting (not yet written to its stream)
    /// before it is ended with RESOURCE_EXHAUSTED; containerd and CRI-O buffer 1000.
    /// </summary>
    public int ContainerEventsQueueLength { get; set; } = 1000;

    /// <summary>Block I/O weight and per-device throttles for every container; pod annotations blkio.berth.io/* override them.</summary>
    public BlockIoDefaults BlockIo { get; set; } = new();

    /// <summary>The pod network: CNI configuration and plugin directories, plugin timeout, configuration template.</summary>
    public CniSettings Cni { get; set; } = new();

    /// <summary>The streaming server that Exec, Attach and PortForward return URLs on.</summary>
    public StreamingConfig Streaming { get; set; } = new();

    /// <summary>
    /// Where a Localhost seccomp profile named by a relative path is found (an absolute one is taken as it
    /// is, as kubelet sends them): kubelet's own seccomp root by default.
    /// </summary>
    public string SeccompProfileRoot { get; set; } = NodeSecurity.DefaultSeccompProfileRoot;

    /// <summary>
    /// Where CDI spec files (<c>*.json</c>, <c>*.yaml</c>) are read from, lowest priority first: a device in a
    /// later directory replaces one of the same name in an earlier one (containerd's <c>cdi_spec_dirs</c>).
    /// </summary>
    public List<string> CdiSpecDirs { get; set; } = ["/etc/cdi", "/var/run/cdi"];

    /// <summary>The berth-shim binary; by default the one beside berthd.</summary>
    public string ShimPath { get; set; } = Path.Combine(AppContext.BaseDirectory, "berth-shim");

    /// <summary>Minimum level of the structured log on stderr: Trace, Debug, Information, Warning, Error.</summary>
    public string LogLevel { get; set; } = "Information";

    /// <summary>
    /// Who manages pod and container cgroups: <c>cgroupfs</c> (berth writes them) or <c>systemd</c> (slices and
    /// scopes made over D-Bus), reported to kubelet by RuntimeConfig. Changing it needs a restart with no pods.
    /// </summary>
    public string CgroupDriver { get; set; } = "cgroupfs";

    /// <summary>
    /// The D-Bus address of systemd for the systemd driver: its own root-only socket by default (what systemctl
    /// uses as root; no bus daemon needed), or the system bus (unix:path=/run/dbus/system_bus_socket).
    /// </summary>
    public string SystemdBusAddress { get; set; } = "unix:path=/run/systemd/private";

    public string SocketPath => Listen["unix://".Length..];

    /// <summary><see cref="CgroupDriver"/> as the planners name it (validated by <see cref="ConfigLoader.Validate"/>).</summary>
    [JsonIgnore]
    public CgroupDriverKind CgroupDriverKind => CgroupDriver == "systemd" ? CgroupDriverKind.Systemd : CgroupDriverKind.Cgroupfs;

    /// <summary><see cref="ImportDirectory"/>, or its default under <see cref="Root"/>.</summary>
    [JsonIgnore]
    public string ImportDirectoryPath => ImportDirectory ?? Path.Combine(Root, "import");

    /// <summary><see cref="LoginFile"/>, or its default under <see cref="Root"/>.</summary>
    [JsonIgnore]
    public string LoginFilePath => LoginFile ?? Path.Combine(Root, "auth.json");

    /// <summary>The admin socket's path: <see cref="AdminListen"/>'s, or admin.sock under <see cref="State"/>.</summary>
    [JsonIgnore]
    public string AdminSocketPath => AdminListen is null ? Path.Combine(State, "admin.sock") : AdminListen["unix://".Length..];

    public IPEndPoint? MetricsEndPoint => MetricsAddress is null ? null : IPEndPoint.Parse(MetricsAddress);
}

/// <summary>
/// berthd's streaming server (containerd's stream_server_address, stream_server_port,
/// enable_tls_streaming with x509_key_pair_streaming, and stream_idle_timeout).
/// </summary>
public sealed record StreamingConfig
{
    /// <summary>The address it listens on: loopback by default, since kubelet on the same node proxies to it.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>The TCP port; 0 picks a free one at each start (the URLs say which).</summary>
    public int Port { get; set; }

    /// <summary>A PEM certificate (chain) for HTTPS; with <see cref="TlsKeyFile"/>, the URLs are https://.</summary>
    public string? TlsCertFile { get; set; }

    /// <summary>The PEM private key of <see cref="TlsCertFile"/>.</summary>
    public string? TlsKeyFile { get; set; }

    /// <summary>A session with no traffic either way for this long is closed (containerd's default: 4 h).</summary>
    public int IdleTimeoutSeconds { get; set; } = 4 * 60 * 60;

    /// <summary>
    /// Commands a container runs at once, exec sessions and ExecSync together (17..128, the shim's
    /// <see cref="Berth.Api.Shim.ExecLimits"/>): sessions may hold all but the 16 kept for ExecSync.
    /// </summary>
    public int MaxExecsPerContainer { get; set; } = Berth.Api.Shim.ExecLimits.MaxExecs;

    [JsonIgnore]
    public IPAddress AddressValue => IPAddress.Parse(Address);

    [JsonIgnore]
    public bool UsesTls => TlsCertFile is not null;
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    WriteIndented = true)]
[JsonSerializable(typeof(BerthConfig))]
internal sealed partial class ConfigJsonContext : JsonSerializerContext;
