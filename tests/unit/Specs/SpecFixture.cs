using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.ImageService.Images;
using Berth.RuntimeService.Specs;
using Google.Protobuf;

namespace Berth.Tests.Unit.Specs;

/// <summary>A typical pod and container request, for tests to change one thing of.</summary>
internal static class SpecFixture
{
    public const string SandboxId = "sandbox0123";
    public const string ContainerId = "container4567";
    public const string NamespaceDir = "/run/berth/ns/sandbox0123";

    public static readonly SandboxFiles Files = new(
        NamespaceDir,
        HostsPath: "/run/berth/pods/sandbox0123/hosts",
        ResolvConfPath: "/run/berth/pods/sandbox0123/resolv.conf",
        HostnamePath: "/run/berth/pods/sandbox0123/hostname",
        ShmPath: "/run/berth/pods/sandbox0123/shm");

    /// <summary>A regular file on the pretend host, where a device is expected.</summary>
    public const string NotADevice = "/etc/hostname";

    /// <summary>Device nodes of the pretend host.</summary>
    public static readonly IReadOnlyDictionary<string, DeviceNumber> Devices = new Dictionary<string, DeviceNumber>
    {
        ["/dev/fuse"] = new(10, 229, 'c', FileMode: 0x1B6, Uid: 0, Gid: 0),
        ["/dev/vda"] = new(253, 0, 'b', FileMode: 0x1B0),
        ["/dev/vdb"] = new(253, 16, 'b'),
        ["/dev/disk/by-id/virtio-root"] = new(253, 0, 'b'),
    };

    public static PodSandboxConfig Pod() => new()
    {
        Metadata = new PodSandboxMetadata { Name = "web-0", Namespace = "shop", Uid = "pod-uid-1", Attempt = 0 },
        Hostname = "web-0",
        LogDirectory = "/var/log/pods/shop_web-0_pod-uid-1",
        Linux = new LinuxPodSandboxConfig
        {
            CgroupParent = "/kubepods/burstable/podpod-uid-1",
            SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption() },
        },
    };

    public static ContainerConfig Container() => new()
    {
        Metadata = new ContainerMetadata { Name = "app", Attempt = 0 },
        Image = new ImageSpec { Image = "docker.io/library/nginx:1.27", UserSpecifiedImage = "nginx:1.27" },
        Linux = new LinuxContainerConfig
        {
            Resources = new LinuxContainerResources(),
            SecurityContext = new LinuxContainerSecurityContext
            {
                NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Container },
            },
        },
        LogPath = "app/0.log",
    };

    public static ImageConfig Image(
        string? user = null,
        IReadOnlyList<string>? env = null,
        IReadOnlyList<string>? entrypoint = null,
        IReadOnlyList<string>? cmd = null,
        string? workingDir = null,
        IReadOnlyList<string>? volumes = null) =>
        new(
            DiffIds: [],
            User: user,
            Env: env ?? ["PATH=/usr/local/bin:/usr/bin:/bin", "NGINX_VERSION=1.27"],
            Entrypoint: entrypoint ?? ["/docker-entrypoint.sh"],
            Cmd: cmd ?? ["nginx", "-g", "daemon off;"],
            WorkingDir: workingDir,
            StopSignal: "SIGQUIT",
            Volumes: volumes ?? [],
            Labels: new Dictionary<string, string>());

    public static ContainerSpecInput Input(
        ContainerConfig? container = null,
        PodSandboxConfig? pod = null,
        ImageConfig? image = null,
        BlockIoDefaults? blockIo = null,
        string? targetPidNamespace = null,
        NodeSecurity? security = null) =>
        new(
            container ?? Container(),
            pod ?? Pod(),
            image ?? Image(),
            ContainerId,
            SandboxId,
            RootfsPath: "/var/lib/berth/containers/container4567/rootfs",
            CgroupsPath: "/kubepods/burstable/podpod-uid-1/container4567",
            Files,
            blockIo ?? BlockIoDefaults.None,
            ResolveDevice,
            security ?? NodeSecurity.Plain,
            targetPidNamespace);

    public static DeviceLookup ResolveDevice(string path) =>
        Devices.TryGetValue(path, out var device) ? DeviceLookup.Found(device) : path == NotADevice ? DeviceLookup.NotADevice : DeviceLookup.Missing;

    public static OciSpec Build(ContainerSpecInput input) => ContainerSpecBuilder.Build(input).Spec;

    public static OciSpec Build(ContainerConfig container) => Build(Input(container));

    public static SpecException Refused(ContainerSpecInput input) => Assert.Throws<SpecException>(() => ContainerSpecBuilder.Build(input));

    public static KeyValue Env(string key, string value) => new() { Key = key, Value = ByteString.CopyFromUtf8(value) };
}
