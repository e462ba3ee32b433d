using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;

namespace Berth.Tests.Unit.Specs;

public sealed class ContainerNamespacesTests
{
    private static IReadOnlyList<LinuxNamespace> Namespaces(ContainerSpecInput input) => Build(input).Linux!.Namespaces!;

    private static ContainerConfig WithPid(NamespaceMode mode, string targetId = "")
    {
        var container = Container();
        container.Linux.SecurityContext.NamespaceOptions.Pid = mode;
        container.Linux.SecurityContext.NamespaceOptions.TargetId = targetId;
        return container;
    }

    [Fact]
    public void JoinsThePodsNetworkUtsAndIpcAndGetsItsOwnPidAndMount()
    {
        Assert.Equal(
            [
                new LinuxNamespace { Type = "network", Path = NamespaceDir + "/net" },
                new LinuxNamespace { Type = "uts", Path = NamespaceDir + "/uts" },
                new LinuxNamespace { Type = "ipc", Path = NamespaceDir + "/ipc" },
                new LinuxNamespace { Type = "pid" },
                new LinuxNamespace { Type = "mount" },
            ],
            Namespaces(Input()));
    }

    [Fact]
    public void HostNetworkLeavesOutNetworkAndUts()
    {
        var pod = Pod();
        pod.Linux.SecurityContext.NamespaceOptions.Network = NamespaceMode.Node;
        var types = Namespaces(Input(pod: pod)).Select(ns => ns.Type).ToList();
        Assert.DoesNotContain("network", types);
        Assert.DoesNotContain("uts", types);
        Assert.Contains("ipc", types);
    }

    [Fact]
    public void HostIpcLeavesOutIpc()
    {
        var pod = Pod();
        pod.Linux.SecurityContext.NamespaceOptions.Ipc = NamespaceMode.Node;
        Assert.DoesNotContain("ipc", Namespaces(Input(pod: pod)).Select(ns => ns.Type));
    }

    [Theory]
    [InlineData(NamespaceMode.Pod)]
    [InlineData(NamespaceMode.Container)]
    public void PodPidJoinsTheSandboxsPidNamespaceWhateverThePodsOwnMode(NamespaceMode podPid)
    {
        // As containerd joins the pause container's: crictl's "linux": {} leaves the container at POD in a CONTAINER pod.
        var pod = Pod();
        pod.Linux.SecurityContext.NamespaceOptions.Pid = podPid;
        var pid = Namespaces(Input(WithPid(NamespaceMode.Pod), pod: pod)).Single(ns => ns.Type == "pid");
        Assert.Equal(NamespaceDir + "/pid", pid.Path);
    }

    [Fact]
    public void PodPidInAHostPidPodUsesTheHosts()
    {
        var pod = Pod();
        pod.Linux.SecurityContext.NamespaceOptions.Pid = NamespaceMode.Node;
        Assert.DoesNotContain("pid", Namespaces(Input(WithPid(NamespaceMode.Pod), pod: pod)).Select(ns => ns.Type));
    }

    [Fact]
    public void NodePidUsesTheHosts()
    {
        Assert.DoesNotContain("pid", Namespaces(Input(WithPid(NamespaceMode.Node))).Select(ns => ns.Type));
    }

    [Fact]
    public void TargetPidJoinsTheGivenNamespace()
    {
        var pid = Namespaces(Input(WithPid(NamespaceMode.Target, "c1"), targetPidNamespace: "/proc/4242/ns/pid")).Single(ns => ns.Type == "pid");
        Assert.Equal("/proc/4242/ns/pid", pid.Path);
    }

    [Fact]
    public void TargetPidWithoutItsPathIsRefused()
    {
        Assert.Contains("c1", Refused(Input(WithPid(NamespaceMode.Target, "c1"))).Message);
    }

    [Fact]
    public void UserNamespacesAreRefused()
    {
        var container = Container();
        container.Linux.SecurityContext.NamespaceOptions.UsernsOptions = new UserNamespace { Mode = NamespaceMode.Pod };
        Assert.Contains("user namespace", Refused(Input(container)).Message);
    }

    [Fact]
    public void NoCgroupNamespaceAndNoContainerSysctls()
    {
        var spec = Build(Input());
        Assert.DoesNotContain("cgroup", spec.Linux!.Namespaces!.Select(ns => ns.Type));
        Assert.Null(spec.Linux.Sysctl);
    }
}
