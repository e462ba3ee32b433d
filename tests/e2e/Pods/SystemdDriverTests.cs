using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

/// <summary>
/// The systemd cgroup driver against a real systemd (<see cref="TestSystemd"/>: PID 1 of its own namespaces):
/// pods and containers become units in the right slice with the right limits, and go with them.
/// </summary>
public sealed class SystemdDriverTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    private static readonly bool CgroupV2 = File.Exists("/sys/fs/cgroup/cgroup.controllers");

    [Fact]
    public async Task PodsAndContainersAreUnitsInTheirSliceWithTheirLimitsAndGoWithThem()
    {
        await using var systemd = await TestSystemd.StartAsync();
        await using var berth = await BerthDaemon.StartAsync(new { cgroupDriver = "systemd" }, launcher: systemd.Enter);
        var runtimeConfig = await berth.Runtime.RuntimeConfigAsync(new RuntimeConfigRequest());
        Assert.Equal(CgroupDriver.Systemd, runtimeConfig.Linux.CgroupDriver);

        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        string podSlice = $"kubepods-burstable-pod{pod.Metadata.Uid.Replace("-", "_")}.slice";
        pod.Linux.CgroupParent = podSlice;
        var podId = await berth.RunPodAsync(pod);
        string podCgroup = $"{systemd.CgroupRoot}/kubepods.slice/kubepods-burstable.slice/{podSlice}";
        Assert.Equal("active", await systemd.PropertyAsync(podSlice, "ActiveState"));
        Assert.Equal(podSlice, await systemd.PropertyAsync($"berth-{podId}.scope", "Slice"));

        var config = ContainerConfig(registry.Busybox, "limited", "sleep", "300");
        config.Linux = new LinuxContainerConfig
        {
            Resources = new LinuxContainerResources { CpuShares = 512, CpuQuota = 50_000, CpuPeriod = 100_000, MemoryLimitInBytes = 64 << 20 },
        };
        var id = await berth.CreateContainerAsync(podId, pod, config);
        await berth.StartContainerAsync(id);
        string scope = $"berth-{id}.scope";
        Assert.Equal("active", await systemd.PropertyAsync(scope, "ActiveState"));
        Assert.Equal(podSlice, await systemd.PropertyAsync(scope, "Slice"));
        Assert.Equal($"{podCgroup}/{scope}", await systemd.PropertyAsync(scope, "ControlGroup"));
        Assert.Equal("yes", await systemd.PropertyAsync(scope, "Delegate"));
        Assert.Equal("500ms", await systemd.PropertyAsync(scope, "CPUQuotaPerSecUSec"));
        Assert.Equal("strict", await systemd.PropertyAsync(scope, "DevicePolicy"));
        Assert.Contains("/dev/char/1:3 rwm", await systemd.PropertyAsync(scope, "DeviceAllow"));
        Assert.Equal((64 << 20).ToString(), await systemd.PropertyAsync(scope, CgroupV2 ? "MemoryMax" : "MemoryLimit"));
        // The container's own process is in the scope's cgroup, and the kernel has the unit's limits.
        string memory = CgroupV2 ? $"/sys/fs/cgroup{podCgroup}/{scope}/memory.max" : $"/sys/fs/cgroup/memory{podCgroup}/{scope}/memory.limit_in_bytes";
        Assert.NotEmpty(File.ReadAllText(Path.Combine(Path.GetDirectoryName(memory)!, "cgroup.procs")).Trim());
        Assert.Equal((64 << 20).ToString(), File.ReadAllText(memory).Trim());
        if (!CgroupV2)
        {
            // A delegated scope with no device properties would get "a *:* rwm" from systemd on v1.
            Assert.DoesNotContain("a *:*", File.ReadAllText($"/sys/fs/cgroup/devices{podCgroup}/{scope}/devices.list"));
        }

        await berth.Runtime.UpdateContainerResourcesAsync(new UpdateContainerResourcesRequest
        {
            ContainerId = id,
            Linux = new LinuxContainerResources { CpuShares = 512, CpuQuota = 50_000, CpuPeriod = 100_000, MemoryLimitInBytes = 128 << 20 },
        });
        Assert.Equal((128 << 20).ToString(), await systemd.PropertyAsync(scope, CgroupV2 ? "MemoryMax" : "MemoryLimit"));
        Assert.Equal((128 << 20).ToString(), File.ReadAllText(memory).Trim());

        await berth.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = id, Timeout = 0 });
        await berth.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id });
        Assert.NotEqual("active", await systemd.PropertyAsync(scope, "ActiveState"));
        await berth.RemovePodAsync(podId);
        Assert.NotEqual("active", await systemd.PropertyAsync($"berth-{podId}.scope", "ActiveState"));
        // berth made the pod's slice (kubelet had not), so berth stopped it; kubepods.slice is systemd's.
        Assert.NotEqual("active", await systemd.PropertyAsync(podSlice, "ActiveState"));
        Assert.DoesNotContain(Fixtures.Leftovers.CgroupDirectories(podCgroup), Directory.Exists);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task ACgroupfsParentIsRefusedUnderSystemd()
    {
        await using var systemd = await TestSystemd.StartAsync();
        await using var berth = await BerthDaemon.StartAsync(new { cgroupDriver = "systemd" }, launcher: systemd.Enter);
        var pod = PodConfig(berth);
        var error = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => berth.RunPodAsync(pod));
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("not a systemd slice name", error.Status.Detail);
    }

    [Fact]
    public async Task ASystemdThatDoesNotAnswerStopsBerthdAtStart()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            BerthDaemon.StartAsync(new { cgroupDriver = "systemd", systemdBusAddress = "unix:path=/nonexistent/systemd/private" }));
        Assert.Contains("cgroupDriver is systemd but no systemd is reachable at /nonexistent/systemd/private "
            + "(systemdBusAddress unix:path=/nonexistent/systemd/private): the socket does not exist", error.Message);
        Assert.Contains("set cgroupDriver to cgroupfs", error.Message);
        Assert.DoesNotContain("EADDRNOTAVAIL", error.Message);
        Assert.DoesNotContain("Cannot assign requested address", error.Message);
    }
}
