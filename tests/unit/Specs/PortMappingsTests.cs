using Berth.Api.Cri;
using Berth.RuntimeService.Specs;

namespace Berth.Tests.Unit.Specs;

public sealed class PortMappingsTests
{
    [Theory]
    [InlineData(0, 80, Protocol.Tcp, "", "container_port 0")]
    [InlineData(65536, 80, Protocol.Tcp, "", "container_port 65536")]
    [InlineData(80, -1, Protocol.Tcp, "", "host_port -1")]
    [InlineData(80, 70000, Protocol.Udp, "", "host_port 70000")]
    [InlineData(80, 8080, (Protocol)9, "", "protocol 9")]
    [InlineData(80, 8080, Protocol.Sctp, "not-an-ip", "host_ip")]
    public void AMappingThePortmapPluginCouldNotHonourIsRefusedNamingIt(int containerPort, int hostPort, Protocol protocol, string hostIp, string expected)
    {
        var mappings = new[]
        {
            new PortMapping { ContainerPort = 53, HostPort = 0, Protocol = Protocol.Udp },
            new PortMapping { ContainerPort = containerPort, HostPort = hostPort, Protocol = protocol, HostIp = hostIp },
        };
        var error = Assert.Throws<SpecException>(() => PortMappings.Validate(mappings));
        Assert.StartsWith("port_mappings[1].", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void KubeletsMappingsPass() => PortMappings.Validate(
    [
        new PortMapping { ContainerPort = 80, HostPort = 8080, Protocol = Protocol.Tcp, HostIp = "127.0.0.1" },
        new PortMapping { ContainerPort = 53, Protocol = Protocol.Udp },
        new PortMapping { ContainerPort = 9000, HostPort = 9000, Protocol = Protocol.Sctp, HostIp = "::1" },
    ]);
}
