using System.Net;
using System.Text.Json.Nodes;

namespace Berth.RuntimeService.Network;

/// <summary>
/// Fills a network configuration template with the node's pod CIDRs, as containerd's <c>conf_template</c>
/// does with UpdateRuntimeConfig's pod CIDR. Only containerd's three fields are supported, each replaced
/// as text (Go template actions such as range are not): <c>{{.PodCIDR}}</c> (the first CIDR),
/// <c>{{.PodCIDRRanges}}</c> (host-local "ranges": a JSON list with one range list per CIDR) and
/// <c>{{.Routes}}</c> (a JSON list of default routes, one per address family present).
/// </summary>
public static class CniConfTemplate
{
    /// <summary>The filled template; throws <see cref="CniConfigException"/> when the result is not a network configuration list.</summary>
    public static string Render(string template, IReadOnlyList<string> podCidrs, string source)
    {
        var ranges = new JsonArray();
        foreach (string cidr in podCidrs)
        {
            ranges.Add((JsonNode)new JsonArray(new JsonObject { ["subnet"] = cidr }));
        }
        var routes = new JsonArray();
        if (podCidrs.Any(cidr => IPNetwork.Parse(cidr).BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork))
        {
            routes.Add((JsonNode)new JsonObject { ["dst"] = "0.0.0.0/0" });
        }
        if (podCidrs.Any(cidr => IPNetwork.Parse(cidr).BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6))
        {
            routes.Add((JsonNode)new JsonObject { ["dst"] = "::/0" });
        }
        string text = template
            .Replace("{{.PodCIDR}}", podCidrs.Count > 0 ? podCidrs[0] : "", StringComparison.Ordinal)
            .Replace("{{.PodCIDRRanges}}", ranges.ToJsonString(), StringComparison.Ordinal)
            .Replace("{{.Routes}}", routes.ToJsonString(), StringComparison.Ordinal);
        CniNetworkConfig.ParseList(text, source);
        return text;
    }
}
