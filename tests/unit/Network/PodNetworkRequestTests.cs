using Berth.RuntimeService.Network;
using Berth.RuntimeService.Specs;
using Cri = Berth.Api.Cri;

namespace Berth.Tests.Unit.Network;

public sealed class PodNetworkRequestTests
{
    private static Cri.PodSandboxConfig Pod() => new()
    {
        Metadata = new Cri.PodSandboxMetadata { Name = "web-0", Namespace = "shop", Uid = "u-1" },
        Linux = new Cri.LinuxPodSandboxConfig { CgroupParent = "/kubepods/podu-1" },
    };

    [Fact]
    public void CniArgsAreKubeletsRuntimesPairs()
    {
        Assert.Equal("IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1",
            PodNetworkRequest.For(Pod(), "abc").CniArgs);
    }

    [Fact]
    public void CapabilityArgumentsComeFromPortsAnnotationsDnsAndThePodCidrs()
    {
        var pod = Pod();
        pod.PortMappings.Add(new Cri.PortMapping { ContainerPort = 80, HostPort = 8080 });
        pod.PortMappings.Add(new Cri.PortMapping { ContainerPort = 53, HostPort = 5353, Protocol = Cri.Protocol.Udp, HostIp = "10.0.0.1" });
        pod.PortMappings.Add(new Cri.PortMapping { ContainerPort = 9090 });
        pod.Annotations.Add("kubernetes.io/ingress-bandwidth", "10M");
        pod.Annotations.Add("kubernetes.io/egress-bandwidth", "1.5Gi");
        pod.DnsConfig = new Cri.DNSConfig { Servers = { "10.96.0.10" }, Searches = { "shop.svc" }, Options = { "ndots:5" } };

        var args = PodNetworkRequest.For(pod, "abc").CapabilityArgs(["10.244.1.0/24", "fd00:1::/64"]);

        Assert.Equal("""[{"hostPort":8080,"containerPort":80,"protocol":"tcp","hostIP":""},{"hostPort":5353,"containerPort":53,"protocol":"udp","hostIP":"10.0.0.1"}]""",
            args["portMappings"]!.ToJsonString());
        Assert.Equal("""{"ingressRate":10000000,"ingressBurst":4294967295,"egressRate":1610612736,"egressBurst":4294967295}""", args["bandwidth"]!.ToJsonString());
        Assert.Equal("""{"servers":["10.96.0.10"],"searches":["shop.svc"],"options":["ndots:5"]}""", args["dns"]!.ToJsonString());
        Assert.Equal("""[[{"subnet":"10.244.1.0/24"}],[{"subnet":"fd00:1::/64"}]]""", args["ipRanges"]!.ToJsonString());
        Assert.Equal("/kubepods/podu-1", args["cgroupPath"]!.GetValue<string>());
        Assert.Equal("1.5Gi", args[PodNetworkRequest.PodAnnotationsCapability]!["kubernetes.io/egress-bandwidth"]!.GetValue<string>());
    }

    [Fact]
    public void APodAskingForNothingGetsOnlyItsAnnotationsAndCgroup()
    {
        var args = PodNetworkRequest.For(Pod(), "abc").CapabilityArgs([]);
        Assert.Equal(["cgroupPath", PodNetworkRequest.PodAnnotationsCapability], args.Select(pair => pair.Key));
    }

    [Theory]
    [InlineData("999", "unreasonably small")]
    [InlineData("2P", "unreasonably large")]
    [InlineData("ten megabits", "is not a quantity")]
    public void AnUnusableBandwidthAnnotationIsInvalidArgument(string value, string problem)
    {
        var pod = Pod();
        pod.Annotations.Add("kubernetes.io/ingress-bandwidth", value);
        var error = Assert.Throws<SpecException>(() => PodNetworkRequest.For(pod, "abc"));
        Assert.Contains("kubernetes.io/ingress-bandwidth", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void MetadataThatCniArgsCannotCarryIsInvalidArgument()
    {
        var pod = Pod();
        pod.Metadata.Name = "a;K8S_POD_NAMESPACE=kube-system";
        Assert.Contains("cannot hold ';' or '='", Assert.Throws<SpecException>(() => PodNetworkRequest.For(pod, "abc")).Message);
    }

    [Theory]
    [InlineData("1", 1)]
    [InlineData("10M", 10_000_000)]
    [InlineData("100k", 100_000)]
    [InlineData("1Ki", 1024)]
    [InlineData("1.5Gi", 1_610_612_736)]
    [InlineData("2.5", 3)]
    [InlineData("1500m", 2)]
    [InlineData("1e3", 1000)]
    [InlineData("1E6", 1_000_000)]
    [InlineData("+5G", 5_000_000_000)]
    public void QuantitiesReadAsKubernetesReadsThemRoundedUp(string text, long expected)
    {
        Assert.True(ResourceQuantity.TryParse(text, out decimal value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("M")]
    [InlineData("1.2.3")]
    [InlineData("10 M")]
    [InlineData("10mb")]
    [InlineData("1e99")]
    public void WhatIsNotAQuantityIsRefused(string text) => Assert.False(ResourceQuantity.TryParse(text, out _));
}
