using System.Net;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Specs;

/// <summary>A pod's port mappings (kubelet's hostPort), checked before anything is made: CNI's portmap plugin would otherwise meet them.</summary>
public static class PortMappings
{
    /// <summary>
    /// Each mapping's container port in 1..65535, host port in 0..65535 (0: none), a protocol the CRI
    /// names (TCP, UDP, SCTP) and a host IP that is empty or an address. Throws <see cref="SpecException"/>
    /// naming the mapping.
    /// </summary>
    public static void Validate(IReadOnlyList<Cri.PortMapping> mappings)
    {
        for (int i = 0; i < mappings.Count; i++)
        {
            var mapping = mappings[i];
            string field = $"port_mappings[{i}]";
            if (mapping.ContainerPort is < 1 or > 65535)
            {
                throw new SpecException($"{field}.container_port {mapping.ContainerPort} is not a port in 1..65535");
            }
            if (mapping.HostPort is < 0 or > 65535)
            {
                throw new SpecException($"{field}.host_port {mapping.HostPort} is not a port in 0..65535");
            }
            if (mapping.Protocol is not (Cri.Protocol.Tcp or Cri.Protocol.Udp or Cri.Protocol.Sctp))
            {
                throw new SpecException($"{field}.protocol {(int)mapping.Protocol} is not TCP, UDP or SCTP");
            }
            if (mapping.HostIp.Length > 0 && !IPAddress.TryParse(mapping.HostIp, out _))
            {
                throw new SpecException($"{field}.host_ip \"{mapping.HostIp}\" is not an IP address");
            }
        }
    }
}
