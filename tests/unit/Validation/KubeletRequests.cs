using Berth.Api.Cri;
using Google.Protobuf;

namespace Berth.Tests.Unit.Validation;

/// <summary>Requests shaped as kubelet sends them for an ordinary pod, which the edge must pass.</summary>
internal static class KubeletRequests
{
    private const string PodUid = "6b1f0c4e-7d0a-4c8e-9a55-2f3e8d9c1a7b";
    private const string SandboxId = "0c5d2f4a8b1e3d6c9f0a7b2e4d8c1f3a5b7e9d0c2a4f6b8e1d3c5a7f9b0e2d4c";

    public static PodSandboxConfig Pod(int labels = 4)
    {
        var pod = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = "web-7c9d8f6b5-x2x4z", Namespace = "default", Uid = PodUid, Attempt = 0 },
            Hostname = "web-7c9d8f6b5-x2x4z",
            LogDirectory = $"/var/log/pods/default_web-7c9d8f6b5-x2x4z_{PodUid}",
            DnsConfig = new DNSConfig { Servers = { "10.96.0.10" }, Searches = { "default.svc.cluster.local", "svc.cluster.local", "cluster.local" }, Options = { "ndots:5" } },
            PortMappings = { new PortMapping { Protocol = Protocol.Tcp, ContainerPort = 8080 } },
            Linux = new LinuxPodSandboxConfig
            {
                CgroupParent = $"/kubepods/besteffort/pod{PodUid}",
                SecurityContext = new LinuxSandboxSecurityContext
                {
                    NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Container },
                    Seccomp = new SecurityProfile { ProfileType = SecurityProfile.Types.ProfileType.RuntimeDefault },
                },
                Sysctls = { ["net.ipv4.ip_unprivileged_port_start"] = "0" },
            },
        };
        pod.Labels.Add("io.kubernetes.pod.name", "web-7c9d8f6b5-x2x4z");
        pod.Labels.Add("io.kubernetes.pod.namespace", "default");
        pod.Labels.Add("io.kubernetes.pod.uid", PodUid);
        for (int i = 3; i < labels; i++)
        {
            pod.Labels.Add($"app.kubernetes.io/label-{i}", $"value-{i}");
        }
        pod.Annotations.Add("kubernetes.io/config.seen", "2026-11-29T10:00:00.000000000Z");
        pod.Annotations.Add("kubernetes.io/config.source", "api");
        return pod;
    }

    public static CreateContainerRequest CreateContainer(int environment = 20, int labels = 4)
    {
        var config = new ContainerConfig
        {
            Metadata = new ContainerMetadata { Name = "web", Attempt = 0 },
            Image = new ImageSpec { Image = "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741", UserSpecifiedImage = "registry.k8s.io/nginx:1.27" },
            Command = { "/docker-entrypoint.sh" },
            Args = { "nginx", "-g", "daemon off;" },
            WorkingDir = "/usr/share/nginx/html",
            LogPath = "web/0.log",
            Mounts =
            {
                new Mount { ContainerPath = "/var/run/secrets/kubernetes.io/serviceaccount", HostPath = $"/var/lib/kubelet/pods/{PodUid}/volumes/kubernetes.io~projected/kube-api-access-x2x4z", Readonly = true },
                new Mount { ContainerPath = "/etc/hosts", HostPath = $"/var/lib/kubelet/pods/{PodUid}/etc-hosts" },
                new Mount { ContainerPath = "/dev/termination-log", HostPath = $"/var/lib/kubelet/pods/{PodUid}/containers/web/1a2b3c4d" },
            },
            Linux = new LinuxContainerConfig
            {
                Resources = new LinuxContainerResources { CpuPeriod = 100000, CpuShares = 2, OomScoreAdj = 1000, MemoryLimitInBytes = 256 << 20 },
                SecurityContext = new LinuxContainerSecurityContext
                {
                    Capabilities = new Capability { DropCapabilities = { "ALL" }, AddCapabilities = { "NET_BIND_SERVICE" } },
                    NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Container },
                    RunAsUser = new Int64Value { Value = 101 },
                    MaskedPaths = { "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap" },
                    ReadonlyPaths = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" },
                    Seccomp = new SecurityProfile { ProfileType = SecurityProfile.Types.ProfileType.RuntimeDefault },
                },
            },
        };
        for (int i = 0; i < environment; i++)
        {
            config.Envs.Add(new KeyValue { Key = $"SERVICE_{i}_PORT", Value = ByteString.CopyFromUtf8($"tcp://10.96.{i % 256}.1:443") });
        }
        config.Labels.Add("io.kubernetes.container.name", "web");
        config.Labels.Add("io.kubernetes.pod.name", "web-7c9d8f6b5-x2x4z");
        config.Labels.Add("io.kubernetes.pod.namespace", "default");
        for (int i = 3; i < labels; i++)
        {
            config.Labels.Add($"app.kubernetes.io/label-{i}", $"value-{i}");
        }
        config.Annotations.Add("io.kubernetes.container.hash", "5d8f2a1b");
        config.Annotations.Add("io.kubernetes.container.restartCount", "0");
        config.Annotations.Add("io.kubernetes.container.terminationMessagePath", "/dev/termination-log");
        config.Annotations.Add("io.kubernetes.container.ports", "[{\"containerPort\":8080,\"protocol\":\"TCP\"}]");
        return new CreateContainerRequest { PodSandboxId = SandboxId, Config = config, SandboxConfig = Pod(labels) };
    }
}
