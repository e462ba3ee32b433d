using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

public sealed class NamespaceTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    private static async Task<string> OutputAsync(BerthDaemon berth, string id, string command) =>
        (await berth.ExecAsync(id, 10, "sh", "-c", command)).Stdout.ToStringUtf8().Trim();

    [Fact]
    public async Task PodPidNamespaceIsSharedContainerPidIsOwnAndTargetJoinsAnother()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        pod.Linux.SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Pod } };
        var podId = await berth.RunPodAsync(pod);

        var shared = ContainerConfig(registry.Busybox, "shared", "sleep", "301");
        shared.Linux = new LinuxContainerConfig { SecurityContext = new LinuxContainerSecurityContext { NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Pod } } };
        var own = ContainerConfig(registry.Busybox, "own", "sleep", "302");
        own.Linux = new LinuxContainerConfig { SecurityContext = new LinuxContainerSecurityContext { NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Container } } };
        var sharedId = await berth.CreateContainerAsync(podId, pod, shared);
        var ownId = await berth.CreateContainerAsync(podId, pod, own);
        await berth.StartContainerAsync(sharedId);
        await berth.StartContainerAsync(ownId);
        var target = ContainerConfig(registry.Busybox, "target", "sleep", "303");
        target.Linux = new LinuxContainerConfig
        {
            SecurityContext = new LinuxContainerSecurityContext { NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Target, TargetId = ownId } },
        };
        var targetId = await berth.CreateContainerAsync(podId, pod, target);
        await berth.StartContainerAsync(targetId);

        // The pod's reaper is PID 1 of the shared namespace, and the workload is not.
        Assert.NotEqual("sleep", await OutputAsync(berth, sharedId, "cat /proc/1/comm"));
        Assert.Contains("301", await OutputAsync(berth, sharedId, "cat /proc/*/cmdline | tr '\\0' ' '"));
        // Its own namespace: the workload is PID 1 and sees nothing of the pod's.
        Assert.Equal("sleep302", await OutputAsync(berth, ownId, "cat /proc/1/cmdline | tr -d '\\0'"));
        Assert.DoesNotContain("301", await OutputAsync(berth, ownId, "cat /proc/*/cmdline | tr '\\0' ' '"));
        // TARGET: in the other container's namespace, beside its PID 1.
        Assert.Equal("sleep302", await OutputAsync(berth, targetId, "cat /proc/1/cmdline | tr -d '\\0'"));

        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task HostNetworkPodsSeeTheNodesInterfacesAndOthersLoopbackAndTheirNetworksEth0()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        // Interfaces that stay while the test runs (parallel tests add and remove bridges and veths).
        string defaultInterface = File.ReadLines("/proc/net/route").Skip(1).Select(line => line.Split('\t')).First(fields => fields[1] == "00000000")[0];
        string[] stableHostInterfaces = ["lo", defaultInterface, berth.Network.Bridge];

        var isolated = PodConfig(berth);
        var hostNetwork = PodConfig(berth);
        hostNetwork.Linux.SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption { Network = NamespaceMode.Node } };
        var isolatedId = await berth.RunPodAsync(isolated);
        var hostNetworkId = await berth.RunPodAsync(hostNetwork);
        var inIsolated = await berth.CreateContainerAsync(isolatedId, isolated, ContainerConfig(registry.Busybox, "a", "sleep", "300"));
        var inHost = await berth.CreateContainerAsync(hostNetworkId, hostNetwork, ContainerConfig(registry.Busybox, "b", "sleep", "300"));
        await berth.StartContainerAsync(inIsolated);
        await berth.StartContainerAsync(inHost);

        Assert.Equal(["eth0", "lo"], (await OutputAsync(berth, inIsolated, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")).Split('\n').Order());
        // IFF_UP is bit 0 of the interface flags: the shim brought loopback up.
        var loopbackFlags = Convert.ToInt32(await OutputAsync(berth, inIsolated, "cat /sys/class/net/lo/flags"), 16);
        Assert.Equal(1, loopbackFlags & 1);
        var seen = (await OutputAsync(berth, inHost, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")).Split('\n');
        Assert.All(stableHostInterfaces, name => Assert.Contains(name, seen));

        await berth.RemovePodAsync(isolatedId);
        await berth.RemovePodAsync(hostNetworkId);
        Assert.Empty(Traces(berth, isolated));
        Assert.Empty(Traces(berth, hostNetwork));
    }
}
