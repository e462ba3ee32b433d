using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.NetworkTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

/// <summary>
/// Pods on a real CNI network (Debian's bridge, host-local, portmap and bandwidth plugins, and script
/// plugins where a test needs a plugin to misbehave), each daemon on a bridge and subnet of its own.
/// </summary>
public sealed class NetworkTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    [Fact]
    public async Task TwoPodsReachEachOtherByTheirIpsWhichStatusReportsBothFamilies()
    {
        await using var berth = await BerthDaemon.StartAsync(dualStack: true);
        await berth.PullAsync(registry.Busybox.Reference);
        var serverPod = PodConfig(berth);
        var clientPod = PodConfig(berth);
        var serverId = await berth.RunPodAsync(serverPod);
        var clientId = await berth.RunPodAsync(clientPod);
        var server = await berth.CreateContainerAsync(serverId, serverPod, WebServer(registry.Busybox, "server", 8080));
        await berth.StartContainerAsync(server);
        var client = await berth.CreateContainerAsync(clientId, clientPod, ContainerConfig(registry.Busybox, "client", "sleep", "300"));
        await berth.StartContainerAsync(client);

        var serverIps = Ips(await berth.PodStatusAsync(serverId));
        var clientIps = Ips(await berth.PodStatusAsync(clientId));
        Assert.Equal(2, serverIps.Count);
        Assert.True(IPNetwork.Parse(berth.Network.Subnet).Contains(IPAddress.Parse(serverIps[0])), $"{serverIps[0]} is not in {berth.Network.Subnet}");
        Assert.True(IPNetwork.Parse(berth.Network.Subnet6!).Contains(IPAddress.Parse(serverIps[1])), $"{serverIps[1]} is not in {berth.Network.Subnet6}");
        Assert.Empty(serverIps.Intersect(clientIps));
        var hosts = await berth.ExecAsync(server, 10, "cat", "/etc/hosts");
        Assert.Contains($"{serverIps[0]}\t{serverPod.Hostname}", hosts.Stdout.ToStringUtf8());

        foreach (string address in new[] { serverIps[0], $"[{serverIps[1]}]" })
        {
            ExecSyncResponse fetched = null!;
            for (int attempt = 0; attempt < 50; attempt++)
            {
                fetched = await berth.ExecAsync(client, 10, "wget", "-q", "-O", "-", $"http://{address}:8080/");
                if (fetched.ExitCode == 0)
                {
                    break;
                }
                await Task.Delay(100);
            }
            Assert.True(fetched.ExitCode == 0, $"wget {address}: {fetched.Stderr.ToStringUtf8()}");
            Assert.Equal("hello from server\n", fetched.Stdout.ToStringUtf8());
        }

        await berth.RemovePodAsync(serverId);
        await berth.RemoveLeavingNothingAsync(clientId, serverPod);
    }

    [Fact]
    public async Task AHostPortOnTheNodeReachesThePodAndItsRulesGoWithIt()
    {
        await using var berth = await BerthDaemon.StartAsync();
        berth.Network.WriteConfig(Portmap());
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        int hostPort = FreePort();
        pod.PortMappings.Add(new PortMapping { ContainerPort = 8080, HostPort = hostPort, Protocol = Protocol.Tcp });
        var podId = await berth.RunPodAsync(pod);
        await berth.StartContainerAsync(await berth.CreateContainerAsync(podId, pod, WebServer(registry.Busybox, "web", 8080)));
        Assert.NotEmpty(await berth.Network.RulesAsync());

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        string page = "";
        for (int attempt = 0; attempt < 50 && page.Length == 0; attempt++)
        {
            try
            {
                page = await http.GetStringAsync($"http://127.0.0.1:{hostPort}/");
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }
        Assert.Equal("hello from web\n", page);

        await berth.RemoveLeavingNothingAsync(podId, pod);
    }

    [Fact]
    public async Task DnsPortsBandwidthAndKubeletsArgumentsReachThePluginsAndDnsLandsInResolvConf()
    {
        await using var berth = await BerthDaemon.StartAsync();
        string record = Path.Combine(berth.Network.Directory, "record");
        Directory.CreateDirectory(record);
        // First in the list, so its ADD answers a minimal result and the bridge plugin makes the real one.
        berth.Network.AddScriptPlugin("recorder", $$"""
            in=$(cat)
            printf '%s' "$in" > {{record}}/$CNI_COMMAND.json
            printf '%s\n%s\n%s\n%s' "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_ARGS" > {{record}}/$CNI_COMMAND.env
            case "$CNI_COMMAND" in
            VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}' ;;
            ADD) echo '{"cniVersion":"1.0.0"}' ;;
            esac
            """);
        var recorder = new JsonObject
        {
            ["type"] = "recorder",
            ["capabilities"] = new JsonObject { ["dns"] = true, ["portMappings"] = true, ["bandwidth"] = true, ["mac"] = true },
        };
        berth.Network.WriteConfig("1.0.0", [recorder, berth.Network.BridgePlugin()]);
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        pod.DnsConfig = new DNSConfig { Servers = { "10.96.0.10" }, Searches = { "e2e.svc.cluster.local" }, Options = { "ndots:5" } };
        pod.PortMappings.Add(new PortMapping { ContainerPort = 80, HostPort = 18080, Protocol = Protocol.Udp, HostIp = "127.0.0.1" });
        pod.PortMappings.Add(new PortMapping { ContainerPort = 81 });
        pod.Annotations.Add("kubernetes.io/ingress-bandwidth", "10M");
        pod.Annotations.Add("kubernetes.io/egress-bandwidth", "1Mi");

        var podId = await berth.RunPodAsync(pod);
        var container = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "app", "sleep", "300"));
        await berth.StartContainerAsync(container);

        var resolv = (await berth.ExecAsync(container, 10, "cat", "/etc/resolv.conf")).Stdout.ToStringUtf8();
        Assert.Equal("search e2e.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n", resolv);
        var add = JsonNode.Parse(File.ReadAllText(Path.Combine(record, "ADD.json")))!;
        var runtimeConfig = add["runtimeConfig"]!;
        Assert.Equal("""{"servers":["10.96.0.10"],"searches":["e2e.svc.cluster.local"],"options":["ndots:5"]}""", runtimeConfig["dns"]!.ToJsonString());
        Assert.Equal("""[{"hostPort":18080,"containerPort":80,"protocol":"udp","hostIP":"127.0.0.1"}]""", runtimeConfig["portMappings"]!.ToJsonString());
        Assert.Equal(10_000_000UL, runtimeConfig["bandwidth"]!["ingressRate"]!.GetValue<ulong>());
        Assert.Equal(1_048_576UL, runtimeConfig["bandwidth"]!["egressRate"]!.GetValue<ulong>());
        Assert.Null(runtimeConfig["mac"]);
        Assert.Equal(berth.Network.Name, add["name"]!.GetValue<string>());
        Assert.Equal("1.0.0", add["cniVersion"]!.GetValue<string>());
        Assert.Null(add["prevResult"]);
        var env = File.ReadAllLines(Path.Combine(record, "ADD.env"));
        Assert.Equal(podId, env[0]);
        Assert.Equal(Path.Combine(berth.State, "ns", podId, "net"), env[1]);
        Assert.Equal("eth0", env[2]);
        Assert.Equal($"IgnoreUnknown=1;K8S_POD_NAMESPACE=e2e;K8S_POD_NAME={pod.Metadata.Name};K8S_POD_INFRA_CONTAINER_ID={podId};K8S_POD_UID={pod.Metadata.Uid}", env[3]);

        await berth.RemovePodAsync(podId);
        // DEL runs last for the first plugin, with the final ADD result (the bridge's) as prevResult.
        var del = JsonNode.Parse(File.ReadAllText(Path.Combine(record, "DEL.json")))!;
        Assert.Contains(del["prevResult"]!["ips"]!.AsArray(), ip => ip!["address"]!.GetValue<string>().StartsWith(berth.Network.Gateway[..^1], StringComparison.Ordinal));
        Assert.Empty(await NetworkTracesAsync(berth));
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task TheBandwidthPluginShapesThePodsTrafficFromTheAnnotations()
    {
        await using var berth = await BerthDaemon.StartAsync();
        berth.Network.WriteConfig(new JsonObject { ["type"] = "bandwidth", ["capabilities"] = new JsonObject { ["bandwidth"] = true } });
        var pod = PodConfig(berth);
        pod.Annotations.Add("kubernetes.io/ingress-bandwidth", "10M");
        pod.Annotations.Add("kubernetes.io/egress-bandwidth", "20M");

        var podId = await berth.RunPodAsync(pod);

        string veth = await HostVethAsync(berth, podId);
        // The plugin lists the ifb device it shapes egress on among the result's host interfaces.
        string ifb = await HostInterfaceAsync(berth, podId, "bwp");
        berth.Network.OwnLink(ifb);
        var (_, ingress) = await TestNetwork.CaptureAsync("tc", "qdisc", "show", "dev", veth);
        Assert.Contains("tbf", ingress);
        Assert.Contains("rate 10Mbit", ingress);
        var (_, egress) = await TestNetwork.CaptureAsync("tc", "qdisc", "show", "dev", ifb);
        Assert.Contains("rate 20Mbit", egress);

        await berth.RemovePodAsync(podId);
        var (_, after) = await TestNetwork.CaptureAsync("ip", "-o", "link", "show", "type", "ifb");
        Assert.DoesNotContain(ifb, after);
        Assert.Empty(await NetworkTracesAsync(berth));
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task TwentyPodsWithHostPortsCreatedAndRemovedLeaveNoLeaseVethRuleOrNetns()
    {
        await using var berth = await BerthDaemon.StartAsync();
        berth.Network.WriteConfig(Portmap());
        var pods = Enumerable.Range(0, 20).Select(_ => PodConfig(berth)).ToList();
        foreach (var pod in pods)
        {
            pod.PortMappings.Add(new PortMapping { ContainerPort = 80, HostPort = FreePort() });
        }
        var ids = new string[pods.Count];
        await Parallel.ForAsync(0, pods.Count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) => ids[i] = await berth.RunPodAsync(pods[i]));

        var ips = new HashSet<string>();
        foreach (string id in ids)
        {
            ips.Add((await berth.PodStatusAsync(id)).Network.Ip);
        }
        Assert.Equal(20, ips.Count);
        Assert.Equal(20, berth.Network.Leases().Count);
        Assert.Equal(20, berth.Network.Veths().Count);

        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (id, _) => await berth.RemovePodAsync(id));

        Assert.Empty(await NetworkTracesAsync(berth));
        Assert.Empty(pods.SelectMany(pod => Traces(berth, pod)));
    }

    [Fact]
    public async Task BerthdKilledDuringAddOrAfterItStillTearsThePodNetworkDownAtStop()
    {
        await using var berth = await BerthDaemon.StartAsync();
        string stalled = Path.Combine(berth.Network.Directory, "stalled");
        string release = Path.Combine(berth.Network.Directory, "release");
        berth.Network.WriteConfig(ScriptPlugin(berth.Network, "stall", $"touch {stalled}; while [ ! -e {release} ]; do sleep 0.1; done"));
        var during = PodConfig(berth);

        var running = berth.RunPodAsync(during);
        for (int attempt = 0; attempt < 200 && !File.Exists(stalled); attempt++)
        {
            await Task.Delay(50);
        }
        Assert.True(File.Exists(stalled), "the stalling plugin never ran");
        Assert.Single(berth.Network.Leases());
        await berth.KillAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => running);
        File.WriteAllText(release, "");
        await berth.RestartAsync();

        var listed = Assert.Single((await berth.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest())).Items);
        Assert.Equal(PodSandboxState.SandboxNotready, listed.State);
        await berth.RemovePodAsync(listed.Id);
        Assert.Empty(await NetworkTracesAsync(berth));
        Assert.Empty(Traces(berth, during));

        var after = PodConfig(berth);
        var podId = await berth.RunPodAsync(after);
        string ip = (await berth.PodStatusAsync(podId)).Network.Ip;
        await berth.KillAsync();
        await berth.RestartAsync();

        var status = await berth.PodStatusAsync(podId);
        Assert.Equal(PodSandboxState.SandboxReady, status.State);
        Assert.Equal(ip, status.Network.Ip);
        Assert.Single(berth.Network.Leases());
        await berth.RemoveLeavingNothingAsync(podId, after);
    }

    [Fact]
    public async Task ABrokenPluginFailsRunPodSandboxWithItsOwnMessageAndLeavesNothing()
    {
        await using var berth = await BerthDaemon.StartAsync();
        berth.Network.WriteConfig(ScriptPlugin(berth.Network, "broken",
            """echo '{"cniVersion":"1.0.0","code":100,"msg":"broken on purpose","details":"the test plugin refuses every ADD"}'; exit 1"""));
        var pod = PodConfig(berth);

        var error = await Assert.ThrowsAsync<RpcException>(() => berth.RunPodAsync(pod));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("CNI plugin broken failed (ADD): broken on purpose; the test plugin refuses every ADD", error.Status.Detail);
        Assert.Empty((await berth.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest())).Items);
        Assert.Empty(await NetworkTracesAsync(berth));
        Assert.Empty(Traces(berth, pod));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(berth.Root, "network", "attachments")));
    }

    [Fact]
    public async Task AHangingPluginIsKilledAtTheTimeoutAndRunPodSandboxFailsLeavingNothing()
    {
        await using var berth = await BerthDaemon.StartAsync(new { cni = new { pluginTimeoutSeconds = 2 } });
        berth.Network.WriteConfig(ScriptPlugin(berth.Network, "hang", "sleep 600"));
        var pod = PodConfig(berth);

        var error = await Assert.ThrowsAsync<RpcException>(() => berth.RunPodAsync(pod));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Contains("CNI plugin hang (ADD) did not finish within 2 s and was killed", error.Status.Detail);
        Assert.Empty(PluginProcesses(berth));
        Assert.Empty((await berth.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest())).Items);
        Assert.Empty(await NetworkTracesAsync(berth));
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task AnAttachmentWhoseDelFailedIsDeletedByGcAtTheNextStart()
    {
        await using var berth = await BerthDaemon.StartAsync();
        string failDelete = Path.Combine(berth.Network.Directory, "fail-del");
        File.WriteAllText(failDelete, "");
        berth.Network.WriteConfig(ScriptPlugin(berth.Network, "flaky",
            """echo '{"cniVersion":"1.0.0","code":11,"msg":"flaky ADD"}'; exit 1""",
            $$"""if [ -e {{failDelete}} ]; then echo '{"cniVersion":"1.0.0","code":11,"msg":"flaky DEL"}'; exit 1; fi"""));
        var pod = PodConfig(berth);

        var error = await Assert.ThrowsAsync<RpcException>(() => berth.RunPodAsync(pod));
        Assert.Contains("flaky ADD", error.Status.Detail);
        Assert.Empty((await berth.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest())).Items);
        Assert.Empty(Traces(berth, pod));
        // DEL went on past the flaky plugin, so the bridge plugin released the lease at once; as DEL failed,
        // the attachment stays recorded for GC.
        Assert.Empty(berth.Network.Leases());
        Assert.Single(Directory.EnumerateFileSystemEntries(Path.Combine(berth.Root, "network", "attachments")));

        File.Delete(failDelete);
        await berth.RestartAsync();

        Assert.Empty(await NetworkTracesAsync(berth));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(berth.Root, "network", "attachments")));
    }

    [Fact]
    public async Task NetworkReadyFollowsTheConfDirAndPodsNeedItExceptOnTheHostNetwork()
    {
        await using var berth = await BerthDaemon.StartAsync();
        Assert.True((await NetworkConditionAsync(berth)).Status);
        string saved = File.ReadAllText(berth.Network.ConfigPath);

        File.Delete(berth.Network.ConfigPath);
        var down = await NetworkConditionAsync(berth);
        Assert.False(down.Status);
        Assert.Equal("NetworkPluginNotReady", down.Reason);
        Assert.Contains(berth.Network.ConfDir, down.Message);
        var pod = PodConfig(berth);
        var refused = await Assert.ThrowsAsync<RpcException>(() => berth.RunPodAsync(pod));
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("the pod network is not ready", refused.Status.Detail);
        Assert.Empty(Traces(berth, pod));
        var hostPod = PodConfig(berth);
        hostPod.Linux.SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption { Network = NamespaceMode.Node } };
        var hostPodId = await berth.RunPodAsync(hostPod);
        Assert.Equal("", (await berth.PodStatusAsync(hostPodId)).Network.Ip);
        await berth.RemovePodAsync(hostPodId);

        berth.Network.WriteConfig("1.0.0", [berth.Network.BridgePlugin(), new JsonObject { ["type"] = "no-such-plugin" }]);
        var missing = await NetworkConditionAsync(berth);
        Assert.False(missing.Status);
        Assert.Contains("CNI plugin no-such-plugin not found", missing.Message);

        File.WriteAllText(berth.Network.ConfigPath, saved);
        Assert.True((await NetworkConditionAsync(berth)).Status);
        var podId = await berth.RunPodAsync(pod);
        Assert.NotEqual("", (await berth.PodStatusAsync(podId)).Network.Ip);
        await berth.RemovePodAsync(podId);
        Assert.Empty(await NetworkTracesAsync(berth));
    }

    [Fact]
    public async Task APodWhoseNetworkWasBrokenWhileBerthdWasDownFailsCheckAndIsNotReady()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        string veth = await HostVethAsync(berth, podId);
        await berth.KillAsync();

        // Deleting the host end takes the pod's eth0 with it.
        await TestNetwork.CaptureAsync("ip", "link", "del", veth);
        await berth.RestartAsync();

        var response = await berth.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = podId, Verbose = true });
        Assert.Equal(PodSandboxState.SandboxNotready, response.Status.State);
        using var info = JsonDocument.Parse(response.Info["info"]);
        Assert.Contains("its network failed CHECK", info.RootElement.GetProperty("notReadyReason").GetString());
        await berth.RemoveLeavingNothingAsync(podId, pod);
    }

    private static async Task<RuntimeCondition> NetworkConditionAsync(BerthDaemon berth) =>
        (await berth.Runtime.StatusAsync(new StatusRequest())).Status.Conditions.Single(condition => condition.Type == "NetworkReady");
}
