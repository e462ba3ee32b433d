using Berth.Api.Cri;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;

namespace Berth.Tests.Unit.Specs;

public sealed class ContainerSecurityTests
{
    private static (ContainerConfig Container, PodSandboxConfig Pod) Privileged()
    {
        var container = Container();
        container.Linux.SecurityContext.Privileged = true;
        var pod = Pod();
        pod.Linux.SecurityContext.Privileged = true;
        return (container, pod);
    }

    [Fact]
    public void MaskedAndReadonlyPathsDefaultToContainerds()
    {
        var linux = Build(Container()).Linux!;
        Assert.Equal(
            ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
             "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"],
            linux.MaskedPaths);
        Assert.Equal(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"], linux.ReadonlyPaths);
    }

    [Fact]
    public void MaskedAndReadonlyPathsFromKubeletReplaceTheDefaults()
    {
        var container = Container();
        container.Linux.SecurityContext.MaskedPaths.AddRange(["/proc/kcore", "/proc/keys"]);
        container.Linux.SecurityContext.ReadonlyPaths.Add("/proc/sys");
        var linux = Build(container).Linux!;
        Assert.Equal(["/proc/kcore", "/proc/keys"], linux.MaskedPaths);
        Assert.Equal(["/proc/sys"], linux.ReadonlyPaths);
    }

    [Fact]
    public void RelativeMaskedPathIsRefused()
    {
        var container = Container();
        container.Linux.SecurityContext.MaskedPaths.Add("proc/kcore");
        Refused(Input(container));
    }

    [Fact]
    public void PrivilegedHasNoMaskedOrReadonlyPaths()
    {
        var (container, pod) = Privileged();
        container.Linux.SecurityContext.MaskedPaths.Add("/proc/kcore");
        var linux = Build(Input(container, pod)).Linux!;
        Assert.Null(linux.MaskedPaths);
        Assert.Null(linux.ReadonlyPaths);
    }

    [Fact]
    public void PrivilegedContainerNeedsAPrivilegedSandbox()
    {
        var container = Container();
        container.Linux.SecurityContext.Privileged = true;
        Assert.Contains("privileged", Refused(Input(container)).Message);
    }

    [Fact]
    public void AnnotationsAreContainerdsKeysOverTheRequests()
    {
        var container = Container();
        container.Annotations["io.kubernetes.container.hash"] = "abc";
        container.Annotations[SpecAnnotations.SandboxId] = "forged";
        var annotations = Build(container).Annotations!;
        Assert.Equal("abc", annotations["io.kubernetes.container.hash"]);
        Assert.Equal("container", annotations["io.kubernetes.cri.container-type"]);
        Assert.Equal(SandboxId, annotations["io.kubernetes.cri.sandbox-id"]);
        Assert.Equal("app", annotations["io.kubernetes.cri.container-name"]);
        Assert.Equal("nginx:1.27", annotations["io.kubernetes.cri.image-name"]);
        Assert.Equal("web-0", annotations["io.kubernetes.cri.sandbox-name"]);
        Assert.Equal("shop", annotations["io.kubernetes.cri.sandbox-namespace"]);
        Assert.Equal("pod-uid-1", annotations["io.kubernetes.cri.sandbox-uid"]);
    }

    [Fact]
    public void LocalhostRefWithAnotherTypeIsRefused()
    {
        var container = Container();
        container.Linux.SecurityContext.Seccomp = new SecurityProfile
        {
            ProfileType = SecurityProfile.Types.ProfileType.RuntimeDefault, LocalhostRef = "x.json",
        };
        Refused(Input(container));
    }
}
