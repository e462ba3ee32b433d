using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;

namespace Berth.Tests.E2e.Pods;

/// <summary>Helpers of the pod network tests: web servers in pods, script plugins, and what a network must not keep after its pods went.</summary>
internal static class NetworkTestSupport
{
    /// <summary>A busybox container serving "hello from NAME" over HTTP on <paramref name="port"/>.</summary>
    public static ContainerConfig WebServer(PushedImage image, string name, int port) =>
        PodTestSupport.ContainerConfig(image, name, "sh", "-c",
            $"mkdir -p /tmp/www && echo hello from {name} > /tmp/www/index.html && exec httpd -f -p {port} -h /tmp/www");

    /// <summary>The portmap plugin, asking for the pod's hostPorts.</summary>
    public static JsonObject Portmap() => new() { ["type"] = "portmap", ["capabilities"] = new JsonObject { ["portMappings"] = true } };

    /// <summary>
    /// A chained script plugin: VERSION answers 0.3.0 to 1.0.0; ADD runs <paramref name="onAdd"/> (the
    /// request is in "$in") and then, unless that exited, passes prevResult on (it is the last key berthd
    /// writes for a plugin without capabilities); DEL runs <paramref name="onDelete"/>.
    /// </summary>
    public static JsonObject ScriptPlugin(TestNetwork network, string type, string onAdd, string onDelete = "")
    {
        network.AddScriptPlugin(type, $$"""
            in=$(cat)
            case "$CNI_COMMAND" in
            VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}' ;;
            ADD) {{onAdd}}
                 printf '%s' "$in" | sed -e 's/^.*"prevResult"://' -e 's/}$//' ;;
            DEL) {{onDelete}} ;;
            esac
            """);
        return new JsonObject { ["type"] = type };
    }

    /// <summary>The addresses a pod status reports, primary first.</summary>
    public static IReadOnlyList<string> Ips(PodSandboxStatus status) => [status.Network.Ip, .. status.Network.AdditionalIps.Select(ip => ip.Ip)];

    /// <summary>The host end of the pod's veth, from the CNI result in the verbose status.</summary>
    public static Task<string> HostVethAsync(BerthDaemon berth, string podId) => HostInterfaceAsync(berth, podId, "veth");

    /// <summary>The one host interface of the pod's CNI result whose name starts with <paramref name="prefix"/>.</summary>
    public static async Task<string> HostInterfaceAsync(BerthDaemon berth, string podId, string prefix)
    {
        var response = await berth.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = podId, Verbose = true });
        using var info = JsonDocument.Parse(response.Info["info"]);
        return info.RootElement.GetProperty("cniResult").GetProperty("interfaces").EnumerateArray()
            .Select(item => (Name: item.GetProperty("name").GetString()!, Sandbox: item.TryGetProperty("sandbox", out var sandbox) ? sandbox.GetString() : null))
            .Single(item => string.IsNullOrEmpty(item.Sandbox) && item.Name.StartsWith(prefix, StringComparison.Ordinal)).Name;
    }

    /// <summary>Everything of the network a removed pod must not keep: leases, veths on the bridge, iptables rules naming the network.</summary>
    public static async Task<IReadOnlyList<string>> NetworkTracesAsync(BerthDaemon berth) =>
        [.. berth.Network.Leases().Select(lease => $"lease {lease}"), .. berth.Network.Veths().Select(veth => $"veth {veth}"),
            .. (await berth.Network.RulesAsync()).Select(rule => $"rule {rule}")];

    /// <summary>Stops and removes the pod, then checks it left nothing on the node or on the network.</summary>
    public static async Task RemoveLeavingNothingAsync(this BerthDaemon berth, string podId, PodSandboxConfig pod)
    {
        await berth.RemovePodAsync(podId);
        Assert.Empty(await NetworkTracesAsync(berth));
        Assert.Empty(PodTestSupport.Traces(berth, pod));
    }

    /// <summary>Processes running a plugin from the test network's plugin directory.</summary>
    public static IReadOnlyList<int> PluginProcesses(BerthDaemon berth) =>
        [.. Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(name => int.TryParse(name, out _)).Select(int.Parse!)
            .Where(pid => CommandLine(pid).Contains(berth.Network.PluginDir, StringComparison.Ordinal))];

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }
}
