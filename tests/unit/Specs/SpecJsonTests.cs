using System.Text.Json;
using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;

namespace Berth.Tests.Unit.Specs;

public sealed class SpecJsonTests
{
    [Fact]
    public void ABuiltContainerSpecRoundTripsThroughOciJson()
    {
        var container = Container();
        container.Mounts.Add(new Mount { ContainerPath = "/data", HostPath = "/h/data", Propagation = MountPropagation.PropagationHostToContainer });
        container.Devices.Add(new Device { HostPath = "/dev/fuse", ContainerPath = "/dev/fuse", Permissions = "rwm" });
        container.Linux.Resources = new LinuxContainerResources
        {
            CpuQuota = 20000, CpuPeriod = 100000, MemoryLimitInBytes = 1 << 28,
            HugepageLimits = { new HugepageLimit { PageSize = "2MB", Limit = 1 << 21 } },
            Unified = { ["memory.high"] = "max" },
        };
        var pod = Pod();
        pod.Annotations[BlockIoSettings.ThrottleReadBpsAnnotation] = "/dev/vda=1048576";
        var spec = Build(Input(container, pod));

        byte[] json = OciJson.Serialize(spec);
        var parsed = OciJson.ParseSpec(json);
        Assert.Equal(json, OciJson.Serialize(parsed));

        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal("/proc", root.GetProperty("mounts")[0].GetProperty("destination").GetString());
        Assert.Equal("rslave", root.GetProperty("linux").GetProperty("rootfsPropagation").GetString());
        Assert.Equal(1048576ul, root.GetProperty("linux").GetProperty("resources").GetProperty("blockIO")
            .GetProperty("throttleReadBpsDevice")[0].GetProperty("rate").GetUInt64());
        Assert.Equal("CAP_CHOWN", root.GetProperty("process").GetProperty("capabilities").GetProperty("bounding")[0].GetString());
        Assert.False(root.GetProperty("process").TryGetProperty("rlimits", out _));
    }

    [Fact]
    public void ABuiltSandboxSpecRoundTripsThroughOciJson()
    {
        var pod = Pod();
        pod.Linux.Sysctls["net.ipv4.ping_group_range"] = "0 2147483647";
        var spec = SandboxSpecBuilder.Build(new SandboxSpecInput(pod, SandboxId, "/berth/x", Files));
        byte[] json = OciJson.Serialize(spec);
        Assert.Equal(json, OciJson.Serialize(OciJson.ParseSpec(json)));
        using var document = JsonDocument.Parse(json);
        Assert.Equal("0 2147483647", document.RootElement.GetProperty("linux").GetProperty("sysctl").GetProperty("net.ipv4.ping_group_range").GetString());
    }
}
