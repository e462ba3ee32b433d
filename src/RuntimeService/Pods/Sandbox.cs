using Berth.Api.Shim;
using Berth.RuntimeService.State;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Pods;

/// <summary>A pod sandbox as berthd knows it: its record and config, and a connection to its shim while it runs.</summary>
public sealed class Sandbox(SandboxRecord record, Cri.PodSandboxConfig config, RuntimePaths paths)
{
    public SandboxRecord Record { get; } = record;
    public Cri.PodSandboxConfig Config { get; } = config;
    public string Id => Record.Id;
    public string Bundle { get; } = paths.SandboxBundle(record.Id);
    public string NamespaceDir { get; } = paths.NamespaceDir(record.Id);
    public string SocketPath { get; } = paths.ShimSocket(record.Id);
    public string ShmPath => Path.Combine(Bundle, "shm");
    public string HostsPath => Path.Combine(Bundle, "hosts");
    public string ResolvConfPath => Path.Combine(Bundle, "resolv.conf");
    public string HostnamePath => Path.Combine(Bundle, "hostname");

    /// <summary>Its reaper's cgroup: a child of the pod cgroup, since on cgroup v2 a cgroup with children holds no process.</summary>
    public string ReaperCgroupPath => Record.CgroupPath.TrimEnd('/') + "/" + Record.Id;

    /// <summary>Serialises stop and remove of this sandbox.</summary>
    public SemaphoreSlim Lock { get; } = new(1, 1);

    public ShimClient? Shim { get; set; }

    public volatile bool Ready;

    public volatile int ReaperPid;

    public Cri.NamespaceMode Mode(Func<Cri.NamespaceOption, Cri.NamespaceMode> select) =>
        Config.Linux?.SecurityContext?.NamespaceOptions is { } options ? select(options) : Cri.NamespaceMode.Pod;

    public bool HostNetwork => Mode(options => options.Network) == Cri.NamespaceMode.Node;
    public bool HostIpc => Mode(options => options.Ipc) == Cri.NamespaceMode.Node;
    public bool SharedPidNamespace => Mode(options => options.Pid) == Cri.NamespaceMode.Pod;
}
