using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;

namespace Berth.Tests.Unit.Specs;

public sealed class SandboxSpecBuilderTests
{
    private static OciSpec Build(PodSandboxConfig pod) =>
        SandboxSpecBuilder.Build(new SandboxSpecInput(pod, SandboxId, "/kubepods/burstable/podpod-uid-1/sandbox0123", Files));

    private static PodSandboxConfig PodWith(NamespaceMode network = NamespaceMode.Pod, NamespaceMode ipc = NamespaceMode.Pod,
        NamespaceMode pid = NamespaceMode.Container)
    {
        var pod = Pod();
        pod.Linux.SecurityContext.NamespaceOptions = new NamespaceOption { Network = network, Ipc = ipc, Pid = pid };
        return pod;
    }

    private static IEnumerable<string> Types(OciSpec spec) => spec.Linux!.Namespaces!.Select(ns => ns.Type);

    [Fact]
    public void CreatesUtsIpcAndPidAndJoinsTheNetworkNamespaceBerthdPinned()
    {
        var spec = Build(PodWith());
        Assert.Equal(["network", "uts", "ipc", "pid"], Types(spec));
        Assert.Equal("/run/berth/ns/sandbox0123/net", spec.Linux!.Namespaces![0].Path);
        Assert.All(spec.Linux.Namespaces.Skip(1), ns => Assert.Null(ns.Path));
    }

    [Fact]
    public void TheReaperHasAPidNamespaceUnlessThePodUsesTheHosts()
    {
        // As the pause container has one in containerd, whether the pod's mode is POD or CONTAINER.
        Assert.Contains("pid", Types(Build(PodWith(pid: NamespaceMode.Pod))));
        Assert.Contains("pid", Types(Build(PodWith(pid: NamespaceMode.Container))));
        Assert.DoesNotContain("pid", Types(Build(PodWith(pid: NamespaceMode.Node))));
    }

    [Fact]
    public void HostNetworkCreatesNeitherNetworkNorUtsNorHostname()
    {
        var spec = Build(PodWith(network: NamespaceMode.Node));
        Assert.Equal(["ipc", "pid"], Types(spec));
        Assert.Null(spec.Hostname);
    }

    [Fact]
    public void HostIpcCreatesNoIpc()
    {
        Assert.Equal(["network", "uts", "pid"], Types(Build(PodWith(ipc: NamespaceMode.Node))));
    }

    [Fact]
    public void TargetPidForAPodIsRefused()
    {
        Assert.Throws<SpecException>(() => Build(PodWith(pid: NamespaceMode.Target)));
    }

    [Fact]
    public void UserNamespaceIsRefused()
    {
        var pod = Pod();
        pod.Linux.SecurityContext.NamespaceOptions.UsernsOptions = new UserNamespace { Mode = NamespaceMode.Pod };
        Assert.Throws<SpecException>(() => Build(pod));
    }

    [Fact]
    public void HostnameCgroupOomAndShares()
    {
        var spec = Build(Pod());
        Assert.Equal("web-0", spec.Hostname);
        Assert.Equal("/kubepods/burstable/podpod-uid-1/sandbox0123", spec.Linux!.CgroupsPath);
        Assert.Equal(-998, spec.Process!.OomScoreAdj);
        Assert.Equal(2ul, spec.Linux.Resources!.Cpu!.Shares);
        Assert.Null(spec.Mounts);
    }

    [Fact]
    public void ProcessRunsAsThePodsUser()
    {
        var pod = Pod();
        pod.Linux.SecurityContext.RunAsUser = new Int64Value { Value = 65535 };
        pod.Linux.SecurityContext.RunAsGroup = new Int64Value { Value = 65534 };
        pod.Linux.SecurityContext.SupplementalGroups.Add(10);
        var user = Build(pod).Process!.User;
        Assert.Equal((65535u, 65534u), (user.Uid, user.Gid));
        Assert.Equal([10u], user.AdditionalGids);
    }

    [Fact]
    public void AnnotationsAreContainerdsSandboxKeys()
    {
        var pod = Pod();
        pod.Annotations["kubernetes.io/config.source"] = "api";
        pod.Linux.Resources = new LinuxContainerResources { CpuPeriod = 100000, CpuQuota = 20000, CpuShares = 204, MemoryLimitInBytes = 1 << 28 };
        var annotations = Build(pod).Annotations!;
        Assert.Equal("api", annotations["kubernetes.io/config.source"]);
        Assert.Equal("sandbox", annotations["io.kubernetes.cri.container-type"]);
        Assert.Equal(SandboxId, annotations["io.kubernetes.cri.sandbox-id"]);
        Assert.Equal("web-0", annotations["io.kubernetes.cri.sandbox-name"]);
        Assert.Equal("shop", annotations["io.kubernetes.cri.sandbox-namespace"]);
        Assert.Equal("pod-uid-1", annotations["io.kubernetes.cri.sandbox-uid"]);
        Assert.Equal("/var/log/pods/shop_web-0_pod-uid-1", annotations["io.kubernetes.cri.sandbox-log-directory"]);
        Assert.Equal("100000", annotations["io.kubernetes.cri.sandbox-cpu-period"]);
        Assert.Equal("20000", annotations["io.kubernetes.cri.sandbox-cpu-quota"]);
        Assert.Equal("204", annotations["io.kubernetes.cri.sandbox-cpu-shares"]);
        Assert.Equal("268435456", annotations["io.kubernetes.cri.sandbox-memory"]);
    }

    [Fact]
    public void NamespacedSysctlsPass()
    {
        var pod = Pod();
        pod.Linux.Sysctls["net.ipv4.ip_unprivileged_port_start"] = "0";
        pod.Linux.Sysctls["kernel.shm_rmid_forced"] = "1";
        pod.Linux.Sysctls["fs.mqueue.msg_max"] = "100";
        pod.Linux.Sysctls["kernel.domainname"] = "example.org";
        pod.Linux.Sysctls["net/ipv4/conf/eth0.100/rp_filter"] = "2";
        var sysctls = Build(pod).Linux!.Sysctl!;
        Assert.Equal(5, sysctls.Count);
        Assert.Equal("2", sysctls["net/ipv4/conf/eth0.100/rp_filter"]);
    }

    [Theory]
    [InlineData("net.core.somaxconn", NamespaceMode.Node, NamespaceMode.Pod, "network")]
    [InlineData("net/ipv4/ip_forward", NamespaceMode.Node, NamespaceMode.Pod, "network")]
    [InlineData("kernel.domainname", NamespaceMode.Node, NamespaceMode.Pod, "UTS")]
    [InlineData("kernel.shmmax", NamespaceMode.Pod, NamespaceMode.Node, "IPC")]
    [InlineData("fs.mqueue.queues_max", NamespaceMode.Pod, NamespaceMode.Node, "IPC")]
    [InlineData("vm.swappiness", NamespaceMode.Pod, NamespaceMode.Pod, "not namespaced")]
    [InlineData("kernel.pid_max", NamespaceMode.Pod, NamespaceMode.Pod, "not namespaced")]
    [InlineData("kernel.hostname", NamespaceMode.Pod, NamespaceMode.Pod, "hostname")]
    [InlineData("net..x", NamespaceMode.Pod, NamespaceMode.Pod, "not a valid name")]
    public void SysctlsThatWouldReachTheHostAreRefused(string sysctl, NamespaceMode network, NamespaceMode ipc, string reason)
    {
        var pod = PodWith(network, ipc);
        pod.Linux.Sysctls[sysctl] = "1";
        var error = Assert.Throws<SpecException>(() => Build(pod));
        Assert.Contains(sysctl, error.Message);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void HostsFileHasTheLocalhostLinesAndTheHostname()
    {
        Assert.Equal(
            "127.0.0.1\tlocalhost\n" +
            "::1\tlocalhost ip6-localhost ip6-loopback\n" +
            "fe00::0\tip6-localnet\n" +
            "fe00::0\tip6-mcastprefix\n" +
            "fe00::1\tip6-allnodes\n" +
            "fe00::2\tip6-allrouters\n" +
            "127.0.1.1\tweb-0\n",
            SandboxSpecBuilder.HostsFile(Pod(), "web-0"));
    }

    [Fact]
    public void HostsFileMapsPodIpsAndTheShortName()
    {
        string hosts = SandboxSpecBuilder.HostsFile(Pod(), "web-0.web.shop.svc", ["10.1.2.3", "fd00::3"]);
        Assert.EndsWith("10.1.2.3\tweb-0.web.shop.svc web-0\nfd00::3\tweb-0.web.shop.svc web-0\n", hosts);
        Assert.DoesNotContain("127.0.1.1", hosts);
    }

    [Fact]
    public void HostsFileTakesThePodsHostnameWhenNoneIsGiven()
    {
        Assert.EndsWith("127.0.1.1\tweb-0\n", SandboxSpecBuilder.HostsFile(Pod(), ""));
    }

    [Fact]
    public void HostnameWithWhitespaceIsRefused()
    {
        Assert.Throws<SpecException>(() => SandboxSpecBuilder.HostsFile(Pod(), "web 0\n1.2.3.4 evil"));
    }

    [Fact]
    public void ResolvConfIsSearchNameserversOptions()
    {
        var dns = new DNSConfig
        {
            Servers = { "10.96.0.10", "10.96.0.11" },
            Searches = { "shop.svc.cluster.local", "svc.cluster.local", "cluster.local" },
            Options = { "ndots:5", "edns0" },
        };
        Assert.Equal(
            "search shop.svc.cluster.local svc.cluster.local cluster.local\n" +
            "nameserver 10.96.0.10\n" +
            "nameserver 10.96.0.11\n" +
            "options ndots:5 edns0\n",
            SandboxSpecBuilder.ResolvConf(dns));
    }

    [Fact]
    public void ResolvConfWithoutDnsConfigIsTheHosts()
    {
        Assert.Null(SandboxSpecBuilder.ResolvConf(null));
        Assert.Equal("", SandboxSpecBuilder.ResolvConf(new DNSConfig()));
    }

    [Fact]
    public void ResolvConfRefusesInjectedLines()
    {
        Assert.Throws<SpecException>(() => SandboxSpecBuilder.ResolvConf(new DNSConfig { Servers = { "10.0.0.1\nnameserver 6.6.6.6" } }));
    }

    [Theory]
    [InlineData("/kubepods/burstable/podabc", "/kubepods/burstable/podabc")]
    [InlineData("/kubepods/podabc/", "/kubepods/podabc")]
    [InlineData("kubepods/podabc", "/kubepods/podabc")]
    [InlineData("", "/berth/sandbox0123")]
    [InlineData("kubepods-burstable-podabc.slice", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podabc.slice")]
    public void PodCgroupPath(string parent, string expected)
    {
        var pod = Pod();
        pod.Linux.CgroupParent = parent;
        Assert.Equal(expected, CgroupPaths.Pod(pod, SandboxId));
    }

    [Fact]
    public void PodCgroupPathWithoutLinuxConfig()
    {
        Assert.Equal("/berth/s1", CgroupPaths.Pod(new PodSandboxConfig(), "s1"));
    }

    [Fact]
    public void PodCgroupPathRefusesEscapes()
    {
        var pod = Pod();
        pod.Linux.CgroupParent = "/kubepods/../../etc";
        Assert.Throws<SpecException>(() => CgroupPaths.Pod(pod, SandboxId));
    }

    [Fact]
    public void AMinimalPodBuilds()
    {
        var spec = SandboxSpecBuilder.Build(new SandboxSpecInput(new PodSandboxConfig(), "s1", "/berth/s1", Files));
        Assert.Equal(["network", "uts", "ipc", "pid"], Types(spec));
        Assert.Null(spec.Hostname);
        Assert.Null(spec.Linux!.Sysctl);
    }
}
