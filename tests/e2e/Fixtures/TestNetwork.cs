using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;

namespace Berth.Tests.E2e.Fixtures;

/// <summary>
/// A CNI network of one test's own, on the real plugins of Debian's containernetworking-plugins: a
/// bridge claimed under a unique name (creating the link is the claim, so parallel tests and other
/// processes on the machine never share one), a private /24 (10.200.0.0/12 carved into 4096 of them,
/// away from cri-lab's 10.88.0.0/16; the benchmark takes a /16 of 10.216.0.0/12) and optionally a ULA /64, host-local leases in the test's own
/// directory, a conf dir berthd reads, and a plugin directory for a test's own script plugins.
/// Safety: the bridge holds the gateway address itself, so the plugins never turn on IP forwarding
/// (no isGateway), there is no masquerade, and while it lives forwarding between its subnet and the
/// default-route interface is dropped; so no pod packet leaves the machine. Dispose removes the
/// bridge and every veth on it, the guard rules, and any iptables rule that names the network.
/// </summary>
public sealed class TestNetwork : IAsyncDisposable
{
    /// <summary>Debian's plugins, then the usual place of upstream's.</summary>
    public static readonly IReadOnlyList<string> SystemPluginDirs = ["/usr/lib/cni", "/opt/cni/bin"];

    private readonly List<string[]> _guards = [];
    private readonly List<string> _links = [];

    private TestNetwork(string directory, int index, bool dualStack, bool wide)
    {
        Directory = directory;
        Index = index;
        Bridge = wide ? $"btw{index:x2}bench" : $"bt{index:x4}e2e";
        Name = wide ? $"berth-bench-{index:x2}" : $"berth-e2e-{index:x4}";
        Subnet = wide ? $"10.{216 + index}.0.0/16" : $"10.{200 + index / 256}.{index % 256}.0/24";
        Gateway = wide ? $"10.{216 + index}.0.1" : $"10.{200 + index / 256}.{index % 256}.1";
        PrefixLength = wide ? 16 : 24;
        if (dualStack)
        {
            Subnet6 = $"fd42:be27:{index:x4}::/64";
            Gateway6 = $"fd42:be27:{index:x4}::1";
        }
    }

    public string Directory { get; }
    public int Index { get; }
    public string Bridge { get; }
    public string Name { get; }
    public string Subnet { get; }
    public string Gateway { get; }
    public int PrefixLength { get; }
    public string? Subnet6 { get; }
    public string? Gateway6 { get; }

    /// <summary>The conf dir berthd reads (cni.confDir).</summary>
    public string ConfDir => Path.Combine(Directory, "net.d");

    /// <summary>Where a test puts its own plugins; first in berthd's cni.binDirs.</summary>
    public string PluginDir => Path.Combine(Directory, "bin");

    /// <summary>host-local's dataDir: one file per leased address under a folder named after the network.</summary>
    public string LeaseDir => Path.Combine(Directory, "leases");

    public string ConfigPath => Path.Combine(ConfDir, "10-test.conflist");

    /// <summary>berthd's cni settings for this network (merged into config.json).</summary>
    public JsonObject Settings(int? pluginTimeoutSeconds = null)
    {
        var settings = new JsonObject
        {
            ["confDir"] = ConfDir,
            ["binDirs"] = new JsonArray([PluginDir, .. SystemPluginDirs.Select(dir => (JsonNode)dir)]),
        };
        if (pluginTimeoutSeconds is { } timeout)
        {
            settings["pluginTimeoutSeconds"] = timeout;
        }
        return settings;
    }

    /// <summary>
    /// Claims a bridge and a subnet, guards them, and writes a configuration of the bridge plugin alone.
    /// <paramref name="wide"/> takes a /16 of 10.216.0.0/12 instead (16 of them), for the benchmark's hundreds of pods.
    /// </summary>
    public static async Task<TestNetwork> CreateAsync(string directory, bool dualStack = false, bool wide = false)
    {
        string defaultInterface = DefaultRouteInterface();
        for (int attempt = 0; attempt < 64; attempt++)
        {
            var network = new TestNetwork(directory, Random.Shared.Next(wide ? 16 : 4096), dualStack, wide);
            if (await RunAsync("ip", "link", "add", network.Bridge, "type", "bridge") != 0)
            {
                continue;
            }
            try
            {
                System.IO.Directory.CreateDirectory(network.ConfDir);
                System.IO.Directory.CreateDirectory(network.PluginDir);
                System.IO.Directory.CreateDirectory(network.LeaseDir);
                await RequireAsync("ip", "addr", "add", $"{network.Gateway}/{network.PrefixLength}", "dev", network.Bridge);
                if (network.Gateway6 is { } gateway6)
                {
                    await RequireAsync("ip", "-6", "addr", "add", $"{gateway6}/64", "dev", network.Bridge, "nodad");
                }
                await RequireAsync("ip", "link", "set", network.Bridge, "up");
                if (defaultInterface.Length > 0)
                {
                    await network.GuardAsync("iptables", network.Subnet, defaultInterface);
                    if (network.Subnet6 is { } subnet6)
                    {
                        await network.GuardAsync("ip6tables", subnet6, defaultInterface);
                    }
                }
                network.WriteConfig();
                return network;
            }
            catch
            {
                await network.DisposeAsync();
                throw;
            }
        }
        throw new InvalidOperationException("no free test bridge name after 64 attempts");
    }

    /// <summary>The bridge plugin with host-local IPAM on this network's subnets (the gateway is the bridge's own address).</summary>
    public JsonObject BridgePlugin()
    {
        var ranges = new JsonArray(new JsonArray(new JsonObject { ["subnet"] = Subnet, ["gateway"] = Gateway }));
        var routes = new JsonArray(new JsonObject { ["dst"] = "0.0.0.0/0", ["gw"] = Gateway });
        if (Subnet6 is not null)
        {
            ranges.Add((JsonNode)new JsonArray(new JsonObject { ["subnet"] = Subnet6, ["gateway"] = Gateway6 }));
        }
        return new JsonObject
        {
            ["type"] = "bridge",
            ["bridge"] = Bridge,
            ["isGateway"] = false,
            ["ipMasq"] = false,
            ["hairpinMode"] = true,
            ["ipam"] = new JsonObject
            {
                ["type"] = "host-local",
                ["dataDir"] = LeaseDir,
                ["ranges"] = ranges,
                ["routes"] = routes,
            },
        };
    }

    /// <summary>Writes the network's configuration: the bridge plugin, then <paramref name="more"/> in order.</summary>
    public void WriteConfig(params JsonObject[] more) => WriteConfig("1.0.0", [BridgePlugin(), .. more]);

    /// <summary>Writes a configuration list of exactly these plugins (temporary file and rename, as an operator should).</summary>
    public void WriteConfig(string cniVersion, IEnumerable<JsonObject> plugins)
    {
        var config = new JsonObject
        {
            ["cniVersion"] = cniVersion,
            ["name"] = Name,
            ["plugins"] = new JsonArray([.. plugins]),
        };
        File.WriteAllText(ConfigPath + ".tmp", config.ToJsonString());
        File.Move(ConfigPath + ".tmp", ConfigPath, overwrite: true);
    }

    /// <summary>An executable script plugin in <see cref="PluginDir"/>.</summary>
    public string AddScriptPlugin(string type, string script)
    {
        string path = Path.Combine(PluginDir, type);
        File.WriteAllText(path, "#!/bin/sh\n" + script);
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("755", 8));
        return path;
    }

    /// <summary>Addresses host-local holds for this network (one file per lease).</summary>
    public IReadOnlyList<string> Leases()
    {
        string dir = Path.Combine(LeaseDir, Name);
        return System.IO.Directory.Exists(dir)
            ? [.. System.IO.Directory.EnumerateFiles(dir).Select(Path.GetFileName).OfType<string>().Where(name => IPAddress.TryParse(name, out _))]
            : [];
    }

    /// <summary>The host ends of the veths on the bridge.</summary>
    public IReadOnlyList<string> Veths()
    {
        string dir = $"/sys/class/net/{Bridge}/brif";
        return System.IO.Directory.Exists(dir) ? [.. System.IO.Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).OfType<string>()] : [];
    }

    /// <summary>iptables rules (IPv4 and IPv6, every table) naming this network, as portmap's and bandwidth's comments do.</summary>
    public async Task<IReadOnlyList<string>> RulesAsync()
    {
        var rules = new List<string>();
        foreach (string tool in new[] { "iptables-save", "ip6tables-save" })
        {
            var (_, output) = await CaptureAsync(tool);
            rules.AddRange(output.Split('\n').Where(line => line.Contains(Name, StringComparison.Ordinal)));
        }
        return rules;
    }

    /// <summary>A host link a plugin made for a pod (the bandwidth plugin's ifb device) that Dispose removes should the pod's DEL never run.</summary>
    public void OwnLink(string name) => _links.Add(name);

    public async ValueTask DisposeAsync()
    {
        foreach (string link in Veths().Concat(_links))
        {
            await RunAsync("ip", "link", "del", link);
        }
        await RunAsync("ip", "link", "del", Bridge);
        foreach (var guard in _guards)
        {
            await RunAsync(guard[0], ["-D", .. guard[1..]]);
        }
        // Rules a failed test left: delete each rule that names the network, in its table.
        foreach (var (save, tool) in new[] { ("iptables-save", "iptables"), ("ip6tables-save", "ip6tables") })
        {
            var (_, output) = await CaptureAsync(save);
            string table = "filter";
            foreach (string line in output.Split('\n'))
            {
                if (line.StartsWith('*'))
                {
                    table = line[1..];
                }
                else if (line.StartsWith("-A ", StringComparison.Ordinal) && line.Contains(Name, StringComparison.Ordinal))
                {
                    // iptables-save quotes as a shell does, so the line reads back through sh unchanged.
                    await RunAsync("sh", "-c", $"{tool} -t {table} -D {line[3..]}");
                }
            }
        }
    }

    private async Task GuardAsync(string tool, string subnet, string defaultInterface)
    {
        string comment = $"berth-e2e guard {Bridge}";
        foreach (string[] rule in new[]
        {
            new[] { "FORWARD", "-s", subnet, "-o", defaultInterface, "-m", "comment", "--comment", comment, "-j", "DROP" },
            ["FORWARD", "-d", subnet, "-i", defaultInterface, "-m", "comment", "--comment", comment, "-j", "DROP"],
        })
        {
            await RequireAsync(tool, ["-I", .. rule]);
            _guards.Add([tool, .. rule]);
        }
    }

    /// <summary>The interface of the default route, from /proc/net/route; empty when there is none.</summary>
    private static string DefaultRouteInterface() =>
        File.ReadLines("/proc/net/route").Skip(1).Select(line => line.Split('\t', StringSplitOptions.TrimEntries))
            .FirstOrDefault(fields => fields.Length > 2 && fields[1] == "00000000")?[0] ?? "";

    private static async Task RequireAsync(string program, params string[] arguments)
    {
        var (exit, output) = await CaptureAsync(program, arguments);
        if (exit != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({exit}): {output}");
        }
    }

    private static async Task<int> RunAsync(string program, params string[] arguments) => (await CaptureAsync(program, arguments)).Exit;

    public static async Task<(int Exit, string Output)> CaptureAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
