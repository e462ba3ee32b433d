using System.Text.Json.Nodes;
using Berth.RuntimeService.Specs;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Network;

/// <summary>A hostPort of the pod, in the portMappings capability's terms (protocol in lower case).</summary>
public sealed record CniPortMapping(int HostPort, int ContainerPort, string Protocol, string HostIp);

/// <summary>The bandwidth capability's limits: rates in bits per second, bursts in bits; null where the pod sets none.</summary>
public sealed record CniBandwidth(ulong? IngressRate, ulong? IngressBurst, ulong? EgressRate, ulong? EgressBurst);

/// <summary>
/// What a pod asks of its network, read from kubelet's PodSandboxConfig before anything is made: the
/// CNI_ARGS kubelet's runtimes pass, and the capability arguments (spec CONVENTIONS.md) as containerd's
/// CRI plugin derives them (<c>cniNamespaceOpts</c>): portMappings for hostPorts, bandwidth from the
/// kubernetes.io/ingress-bandwidth and egress-bandwidth annotations, dns from the pod's DNS config,
/// cgroupPath, and the pod's annotations. ipRanges come from the node's pod CIDR, which the network adds.
/// </summary>
public sealed record PodNetworkRequest(
    string SandboxId,
    IReadOnlyList<KeyValuePair<string, string>> Args,
    IReadOnlyList<CniPortMapping> PortMappings,
    CniBandwidth? Bandwidth,
    Cri.DNSConfig? Dns,
    string CgroupPath,
    IReadOnlyDictionary<string, string> Annotations)
{
    public const string IngressBandwidthAnnotation = "kubernetes.io/ingress-bandwidth";
    public const string EgressBandwidthAnnotation = "kubernetes.io/egress-bandwidth";

    /// <summary>containerd's key for the pod's annotations as a capability (annotations.PodAnnotations).</summary>
    public const string PodAnnotationsCapability = "io.kubernetes.cri.pod-annotations";

    /// <summary>
    /// The request of a pod with a network namespace of its own. Throws <see cref="SpecException"/>
    /// (InvalidArgument) for a bandwidth annotation that is not a quantity, or is below 1k or above 1P
    /// bits per second (kubelet's validateBandwidthIsReasonable), or for metadata CNI_ARGS cannot carry.
    /// </summary>
    public static PodNetworkRequest For(Cri.PodSandboxConfig config, string sandboxId)
    {
        var metadata = config.Metadata;
        // CNI_ARGS is "K=V;K=V": a value holding ';' or '=' would be read as other arguments.
        foreach (var (what, value) in new[] { ("namespace", metadata.Namespace), ("name", metadata.Name), ("uid", metadata.Uid) })
        {
            if (value.Contains(';') || value.Contains('='))
            {
                throw new SpecException($"sandbox config metadata {what} '{value}' cannot hold ';' or '=' (they separate CNI_ARGS)");
            }
        }
        // The order of CRI-O's ocicni; containerd passes the same pairs.
        KeyValuePair<string, string>[] args =
        [
            new("IgnoreUnknown", "1"),
            new("K8S_POD_NAMESPACE", metadata.Namespace),
            new("K8S_POD_NAME", metadata.Name),
            new("K8S_POD_INFRA_CONTAINER_ID", sandboxId),
            new("K8S_POD_UID", metadata.Uid),
        ];
        var ports = config.PortMappings
            .Where(mapping => mapping.HostPort > 0)
            .Select(mapping => new CniPortMapping(mapping.HostPort, mapping.ContainerPort, mapping.Protocol.ToString().ToLowerInvariant(), mapping.HostIp))
            .ToList();
        return new PodNetworkRequest(sandboxId, args, ports, ReadBandwidth(config.Annotations), config.DnsConfig,
            config.Linux?.CgroupParent ?? "", new Dictionary<string, string>(config.Annotations, StringComparer.Ordinal));
    }

    /// <summary>CNI_ARGS: the pairs joined as "K=V;K=V".</summary>
    public string CniArgs => string.Join(';', Args.Select(pair => $"{pair.Key}={pair.Value}"));

    /// <summary>The capability arguments as JSON, plus ipRanges from the node's pod CIDRs when kubelet gave them.</summary>
    public JsonObject CapabilityArgs(IReadOnlyList<string> podCidrs)
    {
        var args = new JsonObject();
        if (PortMappings.Count > 0)
        {
            var ports = new JsonArray();
            foreach (var port in PortMappings)
            {
                ports.Add((JsonNode)new JsonObject
                {
                    ["hostPort"] = port.HostPort,
                    ["containerPort"] = port.ContainerPort,
                    ["protocol"] = port.Protocol,
                    ["hostIP"] = port.HostIp,
                });
            }
            args["portMappings"] = ports;
        }
        if (Bandwidth is { } bandwidth)
        {
            var limits = new JsonObject();
            if (bandwidth.IngressRate is { } ingressRate)
            {
                limits["ingressRate"] = ingressRate;
                limits["ingressBurst"] = bandwidth.IngressBurst;
            }
            if (bandwidth.EgressRate is { } egressRate)
            {
                limits["egressRate"] = egressRate;
                limits["egressBurst"] = bandwidth.EgressBurst;
            }
            args["bandwidth"] = limits;
        }
        if (Dns is { } dns)
        {
            args["dns"] = new JsonObject
            {
                ["servers"] = new JsonArray([.. dns.Servers.Select(server => (JsonNode)server)]),
                ["searches"] = new JsonArray([.. dns.Searches.Select(search => (JsonNode)search)]),
                ["options"] = new JsonArray([.. dns.Options.Select(option => (JsonNode)option)]),
            };
        }
        if (podCidrs.Count > 0)
        {
            var ranges = new JsonArray();
            foreach (string cidr in podCidrs)
            {
                ranges.Add((JsonNode)new JsonArray(new JsonObject { ["subnet"] = cidr }));
            }
            args["ipRanges"] = ranges;
        }
        if (CgroupPath.Length > 0)
        {
            args["cgroupPath"] = CgroupPath;
        }
        var annotations = new JsonObject();
        foreach (var (key, value) in Annotations.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            annotations[key] = value;
        }
        args[PodAnnotationsCapability] = annotations;
        return args;
    }

    /// <summary>
    /// kubelet's ExtractPodBandwidthResources with containerd's toCNIBandWidth: each annotation a quantity
    /// of bits per second between 1k and 1P; the burst is containerd's (MaxUint32 bits), since Kubernetes gives none.
    /// </summary>
    private static CniBandwidth? ReadBandwidth(IDictionary<string, string> annotations)
    {
        ulong? ingress = Rate(annotations, IngressBandwidthAnnotation);
        ulong? egress = Rate(annotations, EgressBandwidthAnnotation);
        return ingress is null && egress is null
            ? null
            : new CniBandwidth(ingress, ingress is null ? null : uint.MaxValue, egress, egress is null ? null : uint.MaxValue);
    }

    private static ulong? Rate(IDictionary<string, string> annotations, string key)
    {
        if (!annotations.TryGetValue(key, out string? text))
        {
            return null;
        }
        if (!ResourceQuantity.TryParse(text, out decimal value))
        {
            throw new SpecException($"annotation {key} '{text}' is not a quantity such as 10M or 1Gi");
        }
        if (value < 1_000m)
        {
            throw new SpecException($"annotation {key} '{text}' is unreasonably small (< 1kbit)");
        }
        if (value > 1_000_000_000_000_000m)
        {
            throw new SpecException($"annotation {key} '{text}' is unreasonably large (> 1Pbit)");
        }
        return (ulong)value;
    }
}
