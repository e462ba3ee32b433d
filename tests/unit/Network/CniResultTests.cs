using Berth.RuntimeService.Network;

namespace Berth.Tests.Unit.Network;

public sealed class CniResultTests
{
    [Fact]
    public void A040ResultWithIpVersionsGivesThePodInterfacesAddressesIpv4First()
    {
        var result = CniResult.Parse("""
            {
              "cniVersion": "0.4.0",
              "interfaces": [
                { "name": "cni0", "mac": "aa:aa:aa:aa:aa:aa" },
                { "name": "veth1234", "mac": "bb:bb:bb:bb:bb:bb" },
                { "name": "eth0", "mac": "cc:cc:cc:cc:cc:cc", "sandbox": "/run/berth/ns/p/net" }
              ],
              "ips": [
                { "version": "6", "address": "fd00::5/64", "gateway": "fd00::1", "interface": 2 },
                { "version": "4", "address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 2 },
                { "version": "4", "address": "10.9.9.9/32", "interface": 0 }
              ],
              "routes": [{ "dst": "0.0.0.0/0" }],
              "dns": {}
            }
            """);

        Assert.Equal(["10.1.0.5", "fd00::5"], result.PodIps("eth0").Select(ip => ip.ToString()));
        Assert.Equal(3, result.Interfaces.Count);
        Assert.Equal(16, result.Ips[1].Prefix);
    }

    [Theory]
    [InlineData("1.0.0")]
    [InlineData("1.1.0")]
    public void NewerResultsReadTheSame(string version)
    {
        var result = CniResult.Parse($$"""
            {"cniVersion": "{{version}}", "interfaces": [{"name": "eth0", "sandbox": "/x"}],
             "ips": [{"address": "192.168.3.4/24", "interface": 0}]}
            """);
        Assert.Equal(["192.168.3.4"], result.PodIps("eth0").Select(ip => ip.ToString()));
        Assert.Equal(version, result.CniVersion);
    }

    [Fact]
    public void AddressesTiedToNoInterfaceAreThePodsWhenNoneIsTiedToIt()
    {
        var result = CniResult.Parse("""{"cniVersion": "1.0.0", "ips": [{"address": "10.2.0.7/24"}]}""");
        Assert.Equal(["10.2.0.7"], result.PodIps("eth0").Select(ip => ip.ToString()));
        Assert.Empty(CniResult.Parse("""{"cniVersion": "1.0.0"}""").PodIps("eth0"));
    }

    [Theory]
    [InlineData("""{"ips": []}""", "no cniVersion")]
    [InlineData("""{"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.2/24"}}""", "not one berth reads")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.300/24"}]}""", "CIDR")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.3"}]}""", "CIDR")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.3/24", "interface": -1}]}""", "interface index")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": {}}""", "'ips' is not a list")]
    [InlineData("not json", "not JSON")]
    public void AResultThatCannotBeReadSaysWhy(string json, string problem)
    {
        Assert.Contains(problem, Assert.Throws<FormatException>(() => CniResult.Parse(json)).Message);
    }
}
