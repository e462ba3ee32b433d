using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

/// <summary>Requests kubelet and crictl users send: what containerd runs, berth runs; what it refuses, berth refuses clearly.</summary>
public sealed class ContainerRequestTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    /// <summary>What a .NET resource key looks like when a trimmed build prints one instead of its text (IO_PathNotFound_Path).</summary>
    public const string ResourceKey = @"\b[A-Z][A-Za-z]*_[A-Z][A-Za-z]*(_[A-Za-z]+)*\b";

    [Fact]
    public async Task AMissingBindMountSourceIsCreatedAndTheContainersWritesLandInIt()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var hostPath = Path.Combine(berth.TemporaryDirectory, "volumes", "not", "there", "yet");
        var config = ContainerConfig(registry.Busybox, "writer", "sh", "-c", "echo hello > /data/greeting");
        config.Mounts.Add(new Mount { ContainerPath = "/data", HostPath = hostPath });

        var id = await berth.CreateContainerAsync(podId, pod, config);
        await berth.StartContainerAsync(id);

        Assert.Equal(0, (await berth.WaitForStateAsync(id, ContainerState.ContainerExited)).ExitCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead
            | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, File.GetUnixFileMode(hostPath));
        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(hostPath, "greeting")));
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    public static TheoryData<string, Action<ContainerConfig>, string> InvalidSpecs => new()
    {
        { "relative container path", config => config.Mounts.Add(new Mount { ContainerPath = "relative/path", HostPath = "/tmp" }), "container_path" },
        { "a file as a device", config => config.Devices.Add(new Device { HostPath = "/etc/hostname", ContainerPath = "/dev/x", Permissions = "rw" }), "not a device" },
        { "a missing device", config => config.Devices.Add(new Device { HostPath = "/dev/berth-no-such-device", ContainerPath = "/dev/x", Permissions = "rw" }), "does not exist" },
        { "a bad mount option", config => config.Mounts.Add(new Mount { ContainerPath = "/data", HostPath = "/tmp", MountOptions = { "suid" } }), "mount option" },
        { "a host path and an image", config => config.Mounts.Add(new Mount { ContainerPath = "/data", HostPath = "/tmp", Image = new Berth.Api.Cri.ImageSpec { Image = "busybox" } }), "one of them" },
        { "an unknown CDI device", config => config.CDIDevices.Add(new CDIDevice { Name = "vendor.com/gpu=0" }), "CDI device vendor.com/gpu=0" },
        { "an unknown CDI device by annotation", config => config.Annotations.Add("cdi.k8s.io/gpu", "vendor.com/gpu=0"), "CDI device vendor.com/gpu=0" },
        { "an unqualified CDI name", config => config.CDIDevices.Add(new CDIDevice { Name = "gpu0" }), "CDI device \"gpu0\" is not a qualified name" },
        { "TARGET without a target", config => config.Linux = new LinuxContainerConfig { SecurityContext = new LinuxContainerSecurityContext { NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Target } } }, "target_id" },
    };

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public async Task AnInvalidSpecIsInvalidArgumentWithAMessageOfItsOwnAndLeavesNothing(string what, Action<ContainerConfig> spoil, string expected)
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var config = ContainerConfig(registry.Busybox, "bad", "true");
        spoil(config);

        var error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, config));

        Assert.True(error.StatusCode == StatusCode.InvalidArgument, $"{what}: {error.Status}");
        Assert.Contains(expected, error.Status.Detail);
        Assert.DoesNotContain("Exception", error.Status.Detail);
        Assert.DoesNotMatch(ResourceKey, error.Status.Detail);
        Assert.Empty((await berth.Runtime.ListContainersAsync(new ListContainersRequest())).Containers);
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task AContainerLeftAtThePodPidModeRunsInTheSandboxsPidNamespaceOfAContainerModePod()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        pod.Linux.SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Container } };
        var podId = await berth.RunPodAsync(pod);
        // As crictl users write it: "linux": {} leaves pid at POD.
        var config = ContainerConfig(registry.Busybox, "default-pid", "sleep", "300");
        config.Linux = new LinuxContainerConfig();

        var id = await berth.CreateContainerAsync(podId, pod, config);
        await berth.StartContainerAsync(id);

        var pid1 = await berth.ExecAsync(id, 10, "cat", "/proc/1/cmdline");
        Assert.Equal(0, pid1.ExitCode);
        Assert.Contains("pause", pid1.Stdout.ToStringUtf8());
        Assert.NotEqual(
            new FileInfo("/proc/self/ns/pid").LinkTarget,
            (await berth.ExecAsync(id, 10, "readlink", "/proc/self/ns/pid")).Stdout.ToStringUtf8().Trim());
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }
}
