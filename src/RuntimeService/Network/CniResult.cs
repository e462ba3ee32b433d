using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Berth.RuntimeService.Network;

/// <summary>An interface a network attachment made; <paramref name="Sandbox"/> is the netns path for one inside the pod, empty on the host.</summary>
public sealed record CniInterface(string Name, string Mac, string Sandbox);

/// <summary>An address of an attachment: <paramref name="Address"/> and <paramref name="Prefix"/> as in "10.1.0.5/16"; <paramref name="Interface"/> indexes the result's interfaces.</summary>
public sealed record CniIpConfig(IPAddress Address, int Prefix, IPAddress? Gateway, int? Interface);

/// <summary>
/// The success result of an ADD (spec section 5), in the shape shared by spec versions 0.3.0 to 1.1.0
/// (0.3.x and 0.4.0 add a "version" to each IP, which is ignored). <see cref="Json"/> is the result as
/// the plugin wrote it: what the next plugin gets as prevResult and what DEL and CHECK get back.
/// </summary>
public sealed record CniResult(string CniVersion, IReadOnlyList<CniInterface> Interfaces, IReadOnlyList<CniIpConfig> Ips, JsonObject Json)
{
    /// <summary>Parses a plugin's ADD output; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static CniResult Parse(string json)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new FormatException("the result is not a JSON object");
        }
        catch (JsonException error)
        {
            throw new FormatException($"the result is not JSON: {error.Message}");
        }
        return FromJson(root);
    }

    /// <summary>As <see cref="Parse"/>, from an object already read (a cached result).</summary>
    public static CniResult FromJson(JsonObject root)
    {
        string version = String(root, "cniVersion") ?? throw new FormatException("the result has no cniVersion");
        if (!Network.CniVersion.TryParse(version, out var parsed) || !parsed.IsSpoken)
        {
            throw new FormatException($"the result's cniVersion {version} is not one berth reads ({Network.CniVersion.Oldest} to {Network.CniVersion.Newest})");
        }
        var interfaces = new List<CniInterface>();
        foreach (var item in Array(root, "interfaces"))
        {
            var entry = item as JsonObject ?? throw new FormatException("an entry of 'interfaces' is not an object");
            interfaces.Add(new CniInterface(String(entry, "name") ?? "", String(entry, "mac") ?? "", String(entry, "sandbox") ?? ""));
        }
        var ips = new List<CniIpConfig>();
        foreach (var item in Array(root, "ips"))
        {
            var entry = item as JsonObject ?? throw new FormatException("an entry of 'ips' is not an object");
            string address = String(entry, "address") ?? throw new FormatException("an entry of 'ips' has no address");
            if (!TryParseCidr(address, out var ip, out int prefix))
            {
                throw new FormatException($"ips address '{address}' is not an address in CIDR notation");
            }
            string? gateway = String(entry, "gateway");
            IPAddress? gatewayAddress = null;
            if (gateway is { Length: > 0 } && !IPAddress.TryParse(gateway, out gatewayAddress))
            {
                throw new FormatException($"ips gateway '{gateway}' is not an IP address");
            }
            int? index = null;
            if (entry.TryGetPropertyValue("interface", out var indexNode) && indexNode is not null)
            {
                index = indexNode is JsonValue value && value.TryGetValue(out int number) && number >= 0
                    ? number
                    : throw new FormatException("an ips interface index is not a non-negative integer");
            }
            ips.Add(new CniIpConfig(ip, prefix, gatewayAddress, index));
        }
        return new CniResult(version, interfaces, ips, root);
    }

    /// <summary>
    /// The pod's IPs, as containerd's CRI plugin picks them: the addresses the result puts on the pod's
    /// interface (<paramref name="ifName"/> inside the sandbox), the first IPv4 one as the primary and the
    /// others, in order, as additional (dual stack). Addresses tied to no interface count as the pod's when
    /// none is tied to it (an IPAM-only result). Empty when the result gives the pod no address.
    /// </summary>
    public IReadOnlyList<IPAddress> PodIps(string ifName)
    {
        var mine = Ips.Where(ip => ip.Interface is int i && i < Interfaces.Count && Interfaces[i].Name == ifName && Interfaces[i].Sandbox.Length > 0)
            .Select(ip => ip.Address).ToList();
        if (mine.Count == 0)
        {
            mine = [.. Ips.Where(ip => ip.Interface is null).Select(ip => ip.Address)];
        }
        int primary = mine.FindIndex(ip => ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
        if (primary > 0)
        {
            var first = mine[primary];
            mine.RemoveAt(primary);
            mine.Insert(0, first);
        }
        return mine;
    }

    private static bool TryParseCidr(string text, out IPAddress address, out int prefix)
    {
        address = IPAddress.None;
        prefix = 0;
        int slash = text.IndexOf('/');
        if (slash <= 0 || !IPAddress.TryParse(text.AsSpan(0, slash), out var parsed) || !int.TryParse(text.AsSpan(slash + 1), out prefix))
        {
            return false;
        }
        int max = parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        if (prefix < 0 || prefix > max)
        {
            return false;
        }
        address = parsed;
        return true;
    }

    private static string? String(JsonObject entry, string key) =>
        entry.TryGetPropertyValue(key, out var node) && node is JsonValue value && value.TryGetValue(out string? text) ? text : null;

    private static JsonArray Array(JsonObject root, string key) =>
        !root.TryGetPropertyValue(key, out var node) || node is null ? []
        : node as JsonArray ?? throw new FormatException($"'{key}' is not a list");
}
