using Berth.Core.Errors;
using Berth.RuntimeService.Network;
using Cri = Berth.Api.Cri;

namespace Berth.Tests.Unit.Network;

/// <summary>The CNI side on script plugins: chaining, reverse DEL, the recorded attachment, readiness, GC, the template.</summary>
public sealed class CniPodNetworkTests : IDisposable
{
    private readonly ScriptPlugins _plugins = new();

    public void Dispose() => _plugins.Dispose();

    private static PodNetworkRequest Request(string id = "pod1")
    {
        var pod = new Cri.PodSandboxConfig { Metadata = new Cri.PodSandboxMetadata { Name = "web", Namespace = "ns", Uid = "u" } };
        pod.PortMappings.Add(new Cri.PortMapping { ContainerPort = 80, HostPort = 8080 });
        return PodNetworkRequest.For(pod, id);
    }

    [Fact]
    public async Task AddChainsEachResultAsTheNextPrevResultAndDelRunsInReverseWithTheAddResult()
    {
        _plugins.Add("main", "10.1.0.5/24");
        _plugins.Add("chained");
        _plugins.WriteConfig("1.0.0", """{"type": "main", "bridge": "b0"}""", """{"type": "chained", "capabilities": {"portMappings": true, "dns": true}}""");
        var network = _plugins.Network();

        var status = await network.SetUpAsync(Request(), "/run/netns/pod1", CancellationToken.None);

        Assert.Equal("10.1.0.5", status.Ip);
        Assert.Equal("test", status.NetworkName);
        var main = _plugins.Request("main", "ADD");
        Assert.Equal("b0", main["bridge"]!.GetValue<string>());
        Assert.Equal("test", main["name"]!.GetValue<string>());
        Assert.Null(main["prevResult"]);
        Assert.Null(main["runtimeConfig"]);
        var chained = _plugins.Request("chained", "ADD");
        Assert.Equal("10.1.0.5/24", chained["prevResult"]!["ips"]![0]!["address"]!.GetValue<string>());
        Assert.Equal(8080, chained["runtimeConfig"]!["portMappings"]![0]!["hostPort"]!.GetValue<int>());
        Assert.Null(chained["runtimeConfig"]!["dns"]);

        await network.TearDownAsync("pod1", "/run/netns/pod1", CancellationToken.None);

        // The netns path is not a live namespace here, so DEL gets none, as containerd passes it once the netns is closed.
        Assert.Equal(["ADD main /run/netns/pod1", "ADD chained /run/netns/pod1", "DEL chained ", "DEL main "], _plugins.Calls);
        Assert.Equal("10.1.0.5/24", _plugins.Request("main", "DEL")["prevResult"]!["ips"]![0]!["address"]!.GetValue<string>());
        Assert.Null(network.Recover("pod1"));
        await network.TearDownAsync("pod1", "/run/netns/pod1", CancellationToken.None);
        Assert.Equal(4, _plugins.Calls.Count);
    }

    [Fact]
    public async Task TheAttachmentIsRecordedBeforeAddSoAFailedAddStillDeletesWithWhatAddUsed()
    {
        string attachment = Path.Combine(_plugins.StateDir, "attachments", "pod1.json");
        _plugins.Add("main", "10.1.0.5/24");
        _plugins.Add("broken", onAdd: $$"""test -e {{attachment}} && echo '{"code":7,"msg":"bad config","details":"no bridge"}'; exit 1""");
        _plugins.WriteConfig("1.0.0", """{"type": "main"}""", """{"type": "broken"}""");
        var network = _plugins.Network();

        var error = await Assert.ThrowsAsync<CniPluginException>(() => network.SetUpAsync(Request(), "/run/netns/pod1", CancellationToken.None));

        Assert.Equal("CNI plugin broken failed (ADD): bad config; no bridge (CNI error code 7)", error.Message);
        Assert.Equal(ErrorKind.Unavailable, error.Kind);
        Assert.Null(network.Recover("pod1"));
        _plugins.WriteConfig("1.0.0", """{"type": "other"}""");
        await network.TearDownAsync("pod1", "", CancellationToken.None);
        Assert.Equal(["DEL broken ", "DEL main "], _plugins.Calls.Skip(2));
        Assert.False(File.Exists(attachment));
    }

    [Fact]
    public async Task DelRunsThroughEveryPluginWhenOneFailsSoTheLeaseIsFreedAndTheFirstFailureIsThrown()
    {
        _plugins.Add("main", "10.1.0.5/24");
        _plugins.Add("meta", other: """[ "$CNI_COMMAND" = DEL ] && { echo '{"code":11,"msg":"iptables is locked"}'; exit 1; }; exit 0""");
        _plugins.WriteConfig("1.0.0", """{"type": "main"}""", """{"type": "meta"}""");
        var network = _plugins.Network();
        await network.SetUpAsync(Request(), "/run/netns/pod1", CancellationToken.None);

        var error = await Assert.ThrowsAsync<CniPluginException>(() => network.TearDownAsync("pod1", "", CancellationToken.None));

        Assert.Equal("meta", error.Plugin);
        Assert.Equal(["DEL meta ", "DEL main "], _plugins.Calls.Skip(2));
        Assert.NotNull(network.Recover("pod1"));
    }

    [Fact]
    public async Task OnlyTheInterfacePluginsCheckDecidesAChainedPluginsFailureIsNotThePods()
    {
        _plugins.Add("main", "10.1.0.5/24");
        _plugins.Add("portmap", other: """[ "$CNI_COMMAND" = CHECK ] && { echo '{"code":999,"msg":"could not check ipv6 dnat"}'; exit 1; }; exit 0""");
        _plugins.WriteConfig("1.0.0", """{"type": "main"}""", """{"type": "portmap"}""");
        var network = _plugins.Network();
        await network.SetUpAsync(Request(), "/run/netns/pod1", CancellationToken.None);

        Assert.Null(await network.CheckAsync("pod1", "", CancellationToken.None));
        Assert.Contains("CHECK portmap ", _plugins.Calls);
    }

    [Fact]
    public async Task APluginThatHangsIsKilledAtTheTimeout()
    {
        _plugins.Add("slow", onAdd: "sleep 30");
        _plugins.WriteConfig("1.0.0", """{"type": "slow"}""");
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _plugins.Network(timeoutSeconds: 1).SetUpAsync(Request(), "/run/netns/pod1", CancellationToken.None));

        Assert.Equal(ErrorKind.DeadlineExceeded, error.Kind);
        Assert.Equal("CNI plugin slow (ADD) did not finish within 1 s and was killed", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task APluginThatExitsLeavingAChildOnItsOutputIsReportedByItsExitAndTheChildIsKilled()
    {
        string orphanPid = Path.Combine(_plugins.StateDir, "orphan.pid");
        _plugins.Add("orphaning", onAdd: $"sleep 1000 & echo $! > {orphanPid}; echo 'no bridge' >&2; exit 7");
        _plugins.WriteConfig("1.0.0", """{"type": "orphaning"}""");

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _plugins.Network(timeoutSeconds: 30).SetUpAsync(Request(), "/run/netns/pod1", CancellationToken.None));

        Assert.Equal("CNI plugin orphaning failed (ADD): no bridge (exit status 7)", error.Message);
        int pid = int.Parse(File.ReadAllText(orphanPid).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        for (int attempt = 0; attempt < 100 && Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z "); attempt++)
        {
            await Task.Delay(20);
        }
        Assert.True(!Directory.Exists($"/proc/{pid}") || File.ReadAllText($"/proc/{pid}/stat").Contains(") Z "), "the plugin's orphan still runs");
    }

    [Fact]
    public async Task APluginThatAnswersWithoutReadingItsConfigurationIsJudgedByItsAnswer()
    {
        // A plugin may answer and exit before it reads its configuration (Debian's do for VERSION): writing
        // a configuration larger than the pipe's buffer then meets a closed pipe, and so does closing it.
        _plugins.Add("main", "10.1.0.5/24");
        File.WriteAllText(Path.Combine(_plugins.BinDir, "terse"), """
            #!/bin/sh
            exec 0<&-
            [ "$CNI_COMMAND" = VERSION ] && echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'
            [ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.9/24"}]}'
            exit 0
            """);
        File.SetUnixFileMode(Path.Combine(_plugins.BinDir, "terse"), (UnixFileMode)Convert.ToInt32("755", 8));
        _plugins.WriteConfig("1.0.0", """{"type": "main"}""", $$"""{"type": "terse", "padding": "{{new string('x', 1 << 20)}}"}""");

        var status = await _plugins.Network().SetUpAsync(Request(), "/run/netns/pod1", CancellationToken.None);

        Assert.Equal("10.1.0.9", status.Ip);
    }

    [Fact]
    public async Task APluginWithoutAnErrorObjectIsReportedByItsStderr()
    {
        _plugins.Add("noisy", onAdd: "echo 'failed to open /dev/net' >&2; exit 3");
        _plugins.WriteConfig("1.0.0", """{"type": "noisy"}""");

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _plugins.Network().SetUpAsync(Request(), "/run/netns/pod1", CancellationToken.None));

        Assert.Equal("CNI plugin noisy failed (ADD): failed to open /dev/net (exit status 3)", error.Message);
    }

    [Fact]
    public async Task AResultWithoutAnAddressForThePodFailsTheSetUp()
    {
        _plugins.Add("empty", onAdd: """echo '{"cniVersion":"1.0.0"}'; exit 0""");
        _plugins.WriteConfig("1.0.0", """{"type": "empty"}""");

        var error = await Assert.ThrowsAsync<BerthException>(() => _plugins.Network().SetUpAsync(Request(), "/run/netns/pod1", CancellationToken.None));

        Assert.Contains("gave the pod's interface eth0 no IP address", error.Message);
    }

    [Fact]
    public async Task ReadinessNeedsAConfigurationItsPluginsTheirVersionAndStatusFrom11()
    {
        var network = _plugins.Network();
        var none = await network.ReadinessAsync(CancellationToken.None);
        Assert.False(none.Ready);
        Assert.Equal("NetworkPluginNotReady", none.Reason);
        Assert.Contains("no CNI network configuration", none.Message);

        _plugins.WriteConfig("1.0.0", """{"type": "main"}""");
        Assert.Contains("CNI plugin main not found in " + _plugins.BinDir, (await network.ReadinessAsync(CancellationToken.None)).Message);

        _plugins.Add("main", "10.1.0.5/24", versions: "\"0.3.1\",\"0.4.0\"");
        Assert.Contains("does not speak version 1.0.0", (await network.ReadinessAsync(CancellationToken.None)).Message);

        _plugins.Add("main", "10.1.0.5/24", other: """[ "$CNI_COMMAND" = STATUS ] && { echo '{"code":50,"msg":"no addresses left"}'; exit 1; }; exit 0""");
        Assert.True((await network.ReadinessAsync(CancellationToken.None)).Ready);
        Assert.DoesNotContain(_plugins.Calls, call => call.StartsWith("STATUS", StringComparison.Ordinal));

        _plugins.WriteConfig("1.1.0", """{"type": "main"}""");
        var status = await network.ReadinessAsync(CancellationToken.None);
        Assert.False(status.Ready);
        Assert.Contains("no addresses left", status.Message);
        Assert.Equal("STATUS main ", _plugins.Calls[^1]);
    }

    [Fact]
    public async Task GcDeletesAttachmentsOfGoneSandboxesThenTellsPluginsWhichRemain()
    {
        _plugins.Add("main", "10.1.0.5/24");
        _plugins.WriteConfig("1.1.0", """{"type": "main"}""");
        var network = _plugins.Network();
        await network.SetUpAsync(Request("alive"), "/run/netns/alive", CancellationToken.None);
        await network.SetUpAsync(Request("gone"), "/run/netns/gone", CancellationToken.None);

        await network.CollectGarbageAsync(new HashSet<string> { "alive" }, CancellationToken.None);

        Assert.Equal(["DEL main ", "GC main "], _plugins.Calls.Skip(2));
        Assert.Equal("""[{"containerID":"alive","ifname":"eth0"}]""", _plugins.Request("main", "GC")["cni.dev/valid-attachments"]!.ToJsonString());
        Assert.NotNull(network.Recover("alive"));
        Assert.Null(network.Recover("gone"));
    }

    [Fact]
    public async Task CheckUsesTheAddResultAndIsSkippedWhenTheNetworkDisablesIt()
    {
        _plugins.Add("main", "10.1.0.5/24", other: """[ "$CNI_COMMAND" = CHECK ] && { echo '{"code":100,"msg":"eth0 is gone"}'; exit 1; }; exit 0""");
        _plugins.WriteConfig("1.0.0", """{"type": "main"}""");
        var network = _plugins.Network();
        await network.SetUpAsync(Request(), "/run/netns/pod1", CancellationToken.None);

        Assert.Equal("CNI plugin main failed (CHECK): eth0 is gone (CNI error code 100)", await network.CheckAsync("pod1", "", CancellationToken.None));
        Assert.Equal("10.1.0.5/24", _plugins.Request("main", "CHECK")["prevResult"]!["ips"]![0]!["address"]!.GetValue<string>());
        Assert.Equal("it has no finished network attachment", await network.CheckAsync("other", "", CancellationToken.None));
    }

    [Fact]
    public async Task ThePodCidrIsKeptAcrossRestartsPassedAsIpRangesAndFillsTheTemplate()
    {
        string template = Path.Combine(_plugins.Root, "template.conflist");
        File.WriteAllText(template, """
            {"cniVersion": "1.0.0", "name": "k8s", "plugins": [{"type": "main", "capabilities": {"ipRanges": true},
              "ipam": {"type": "host-local", "subnet": "{{.PodCIDR}}", "ranges": {{.PodCIDRRanges}}, "routes": {{.Routes}}}}]}
            """);
        _plugins.Add("main", "10.244.1.2/24");
        var settings = new CniSettings { ConfDir = _plugins.ConfDir, BinDirs = [_plugins.BinDir], ConfTemplate = template };
        await new CniPodNetwork(settings, _plugins.StateDir, Microsoft.Extensions.Logging.Abstractions.NullLogger<CniPodNetwork>.Instance)
            .SetPodCidrAsync("10.244.1.0/24, fd00:1::/64", CancellationToken.None);

        var network = new CniPodNetwork(settings, _plugins.StateDir, Microsoft.Extensions.Logging.Abstractions.NullLogger<CniPodNetwork>.Instance);
        var loaded = network.LoadNetwork();
        Assert.EndsWith(CniSettings.TemplateOutputName, loaded.Source);
        var ipam = loaded.Plugins[0].Json["ipam"]!;
        Assert.Equal("10.244.1.0/24", ipam["subnet"]!.GetValue<string>());
        Assert.Equal("""[[{"subnet":"10.244.1.0/24"}],[{"subnet":"fd00:1::/64"}]]""", ipam["ranges"]!.ToJsonString());
        Assert.Equal("""[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]""", ipam["routes"]!.ToJsonString());
        Assert.Equal("10.244.1.0/24,fd00:1::/64", network.Describe()["podCidr"]);

        await network.SetUpAsync(Request(), "/run/netns/pod1", CancellationToken.None);
        Assert.Equal("""[[{"subnet":"10.244.1.0/24"}],[{"subnet":"fd00:1::/64"}]]""", _plugins.Request("main", "ADD")["runtimeConfig"]!["ipRanges"]!.ToJsonString());

        var error = await Assert.ThrowsAsync<BerthException>(() => network.SetPodCidrAsync("10.244.1.0", CancellationToken.None));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
    }
}
