using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;

namespace Berth.Tests.Unit.Specs;

public sealed class CapabilitiesTests
{
    private static readonly string[] s_containerdDefault =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    private static OciCapabilities With(string[] add, string[] drop, bool privileged = false, string[]? ambient = null)
    {
        var container = Container();
        var security = container.Linux.SecurityContext;
        security.Capabilities = new Capability();
        security.Capabilities.AddCapabilities.AddRange(add);
        security.Capabilities.DropCapabilities.AddRange(drop);
        security.Capabilities.AddAmbientCapabilities.AddRange(ambient ?? []);
        security.Privileged = privileged;
        var pod = Pod();
        pod.Linux.SecurityContext.Privileged = privileged;
        return Build(Input(container, pod)).Process!.Capabilities!;
    }

    [Fact]
    public void DefaultSetIsContainerds()
    {
        var caps = Build(Container()).Process!.Capabilities!;
        Assert.Equal(s_containerdDefault, caps.Bounding);
        Assert.Equal(s_containerdDefault, caps.Effective);
        Assert.Equal(s_containerdDefault, caps.Permitted);
        Assert.Null(caps.Inheritable);
        Assert.Null(caps.Ambient);
    }

    [Fact]
    public void AddAndDropByKubernetesNames()
    {
        var caps = With(["NET_ADMIN", "sys_time", "CAP_SYS_PTRACE"], ["NET_RAW", "MKNOD"]);
        Assert.Contains("CAP_NET_ADMIN", caps.Bounding!);
        Assert.Contains("CAP_SYS_TIME", caps.Effective!);
        Assert.Contains("CAP_SYS_PTRACE", caps.Permitted!);
        Assert.DoesNotContain("CAP_NET_RAW", caps.Bounding!);
        Assert.DoesNotContain("CAP_MKNOD", caps.Bounding!);
        Assert.Equal(s_containerdDefault.Length + 3 - 2, caps.Bounding!.Count);
    }

    [Fact]
    public void AmbientCapabilitiesAreInheritableAmbientPermittedAndEffective()
    {
        var caps = With([], ["ALL"], ambient: ["NET_BIND_SERVICE", "cap_net_admin"]);
        string[] ambient = ["CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN"];
        Assert.Equal(ambient, caps.Ambient);
        Assert.Equal(ambient, caps.Inheritable);
        Assert.Equal(ambient, caps.Permitted);
        Assert.Equal(ambient, caps.Effective);
        Assert.Equal(ambient, caps.Bounding);
    }

    [Fact]
    public void AmbientCapabilitiesAreRefusedByNameWhenUnknownOrAll()
    {
        Assert.Contains("NOPE", Assert.Throws<SpecException>(() => With([], [], ambient: ["NOPE"])).Message);
        Assert.Throws<SpecException>(() => With([], [], ambient: ["ALL"]));
    }

    [Fact]
    public void PrivilegedIgnoresAmbientAsContainerd()
    {
        Assert.Null(With([], [], privileged: true, ambient: ["NET_ADMIN"]).Ambient);
    }

    [Fact]
    public void DropWinsOverAdd()
    {
        Assert.DoesNotContain("CAP_NET_ADMIN", With(["NET_ADMIN"], ["NET_ADMIN"]).Bounding!);
    }

    [Fact]
    public void DropAllThenAddOne()
    {
        Assert.Equal(["CAP_NET_BIND_SERVICE"], With(["NET_BIND_SERVICE"], ["ALL"]).Bounding);
    }

    [Fact]
    public void DropAllAlone()
    {
        Assert.Empty(With([], ["all"]).Bounding!);
    }

    [Fact]
    public void AddAllThenDropOne()
    {
        var caps = With(["ALL"], ["SYS_ADMIN"]);
        Assert.Equal(40, caps.Bounding!.Count);
        Assert.DoesNotContain("CAP_SYS_ADMIN", caps.Bounding);
        Assert.Contains("CAP_BPF", caps.Bounding);
    }

    [Fact]
    public void PrivilegedGetsAllWhateverIsDropped()
    {
        var caps = With([], ["ALL"], privileged: true);
        Assert.Equal(41, caps.Bounding!.Count);
        Assert.Equal(caps.Bounding, caps.Effective);
    }

    [Fact]
    public void UnknownCapabilityIsRefused()
    {
        var container = Container();
        container.Linux.SecurityContext.Capabilities = new Capability { AddCapabilities = { "FLY" } };
        Assert.Contains("FLY", Refused(Input(container)).Message);
    }
}
