using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Pods;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Daemon;

/// <summary>SIGHUP (systemctl reload berthd): registries change for the next pull while containers run on.</summary>
public sealed class ReloadTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    private static readonly TimeSpan LogWait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task SighupChangesAMirrorForTheNextPullWithoutDroppingARunningContainer()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "runs-on", "sleep", "300"));
        await berth.StartContainerAsync(id);

        // A host no resolver knows: only a mirror can serve it.
        string alias = $"mirror-only.invalid/{registry.Busybox.Repository}:{registry.Busybox.Tag}";
        await Assert.ThrowsAsync<RpcException>(() => berth.PullAsync(alias));

        Directory.CreateDirectory(berth.DropInDirectory);
        File.WriteAllText(Path.Combine(berth.DropInDirectory, "50-mirror.json"),
            "{\"registries\": {\"mirror-only.invalid\": {\"mirrors\": [\"http://" + registry.Busybox.Registry + "\"]}}}");
        berth.Reload();
        await WaitForLogAsync(berth, "Configuration reloaded: applied registries");
        await berth.PullAsync(alias);
        Assert.NotNull(await berth.StatusAsync(alias));

        // A file that does not parse keeps what runs, and says why.
        File.WriteAllText(Path.Combine(berth.DropInDirectory, "60-broken.json"), """{"registries": """);
        berth.Reload();
        await WaitForLogAsync(berth, "60-broken.json");
        Assert.Contains("Configuration reload refused", berth.OutputTail(200));
        await berth.Images.RemoveImageAsync(new RemoveImageRequest { Image = new Berth.Api.Cri.ImageSpec { Image = alias } });
        await berth.PullAsync(alias);

        // A key that needs a restart is named, and not taken.
        File.Delete(Path.Combine(berth.DropInDirectory, "60-broken.json"));
        File.WriteAllText(Path.Combine(berth.DropInDirectory, "70-downloads.json"), """{"maxConcurrentDownloads": 7}""");
        berth.Reload();
        await WaitForLogAsync(berth, "needing a restart maxConcurrentDownloads");

        // A value refused once merged names its file and key; credentials that do not decode are refused here, not at a pull.
        string badAuth = Path.Combine(berth.DropInDirectory, "80-auth.json");
        File.WriteAllText(badAuth, """{"registries": {"mirror-only.invalid": {"auth": "not base64!"}}}""");
        berth.Reload();
        await WaitForLogAsync(berth, $"{badAuth}: registries.mirror-only.invalid.auth: the auth field is not valid base64");
        File.Delete(badAuth);
        await berth.Images.RemoveImageAsync(new RemoveImageRequest { Image = new Berth.Api.Cri.ImageSpec { Image = alias } });
        await berth.PullAsync(alias);

        Assert.True(berth.IsRunning);
        Assert.Equal(ContainerState.ContainerRunning, (await berth.ContainerStatusAsync(id)).State);
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task SighupSwitchingTheCniConfDirPutsTheNextPodOnTheNewNetworkWhileTheFirstKeepsItsOwn()
    {
        var directory = Directory.CreateTempSubdirectory("berth-e2e-network-");
        try
        {
            // Declared first so it goes last: berthd's pods leave it before its bridge goes.
            await using var second = await TestNetwork.CreateAsync(directory.FullName);
            await using var berth = await BerthDaemon.StartAsync();
            var first = PodConfig(berth);
            var firstId = await berth.RunPodAsync(first);
            string firstIp = (await berth.PodStatusAsync(firstId)).Network.Ip;
            Assert.True(InSubnet(firstIp, berth.Network.Subnet), $"{firstIp} is not in {berth.Network.Subnet}");

            Directory.CreateDirectory(berth.DropInDirectory);
            File.WriteAllText(Path.Combine(berth.DropInDirectory, "50-network.json"),
                new System.Text.Json.Nodes.JsonObject { ["cni"] = second.Settings() }.ToJsonString());
            berth.Reload();
            await WaitForLogAsync(berth, "Configuration reloaded: applied cni.binDirs, cni.confDir; changed but needing a restart nothing");

            // crictl info shows the configuration in force, and the network it reads now.
            var info = (await berth.Runtime.StatusAsync(new StatusRequest { Verbose = true })).Info;
            Assert.Contains($"\"confDir\": \"{second.ConfDir}\"", info["config"]);
            Assert.Contains(second.ConfDir, info["cni"]);

            var next = PodConfig(berth);
            var nextId = await berth.RunPodAsync(next);
            string nextIp = (await berth.PodStatusAsync(nextId)).Network.Ip;
            Assert.True(InSubnet(nextIp, second.Subnet), $"{nextIp} is not in the new network's {second.Subnet}");
            Assert.Single(second.Veths());

            // The first pod keeps its network, and leaves it through the configuration it joined with.
            var firstStatus = await berth.PodStatusAsync(firstId);
            Assert.Equal(PodSandboxState.SandboxReady, firstStatus.State);
            Assert.Equal(firstIp, firstStatus.Network.Ip);
            await berth.RemovePodAsync(firstId);
            await berth.RemovePodAsync(nextId);
            Assert.Empty(berth.Network.Leases());
            Assert.Empty(second.Leases());
            Assert.Empty(second.Veths());
            Assert.Empty(Traces(berth, first));
            Assert.Empty(Traces(berth, next));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task ACaThatIsNotPemStopsBerthdAtStartNamingTheFileTheRegistryAndTheKey()
    {
        string ca = Path.GetTempFileName();
        try
        {
            File.WriteAllText(ca, "not a certificate\n");
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => BerthDaemon.StartAsync(
                new { registries = new Dictionary<string, object> { ["myreg:5443"] = new { ca } } }));
            Assert.Matches($"/config.json: registries.myreg:5443.ca: '{System.Text.RegularExpressions.Regex.Escape(ca)}' holds no PEM certificate", error.Message);
        }
        finally
        {
            File.Delete(ca);
        }
    }

    private static bool InSubnet(string ip, string subnet) =>
        System.Net.IPNetwork.Parse(subnet).Contains(System.Net.IPAddress.Parse(ip));

    /// <summary>
    /// nohup, and any parent that ignores SIGHUP, hands the "ignore" down to berthd; .NET then leaves it
    /// ignored, and a reload would silently do nothing (the whole suite run under nohup failed this way).
    /// </summary>
    [Fact]
    public async Task SighupReloadsWhenBerthdWasStartedWithSighupIgnored()
    {
        // A launcher that forks berthd as its only child with SIGHUP ignored, as nohup leaves it.
        await using var berth = await BerthDaemon.StartAsync(launcher: ["/bin/sh", "-c", "trap '' HUP; \"$@\"; exit $?", "sh"]);
        // The launcher (the daemon's direct child process) ignores SIGHUP, so berthd inherited that.
        string ignored = File.ReadLines($"/proc/{berth.ProcessId}/status").Single(line => line.StartsWith("SigIgn:", StringComparison.Ordinal));
        Assert.True((Convert.ToUInt64(ignored["SigIgn:".Length..].Trim(), 16) & 1) != 0, ignored);

        Directory.CreateDirectory(berth.DropInDirectory);
        File.WriteAllText(Path.Combine(berth.DropInDirectory, "50-level.json"), """{"logLevel": "Debug"}""");
        berth.Reload();
        await WaitForLogAsync(berth, "Configuration reloaded: applied logLevel");
        Assert.True(berth.IsRunning);
    }

    private static async Task WaitForLogAsync(BerthDaemon berth, string text)
    {
        var deadline = DateTime.UtcNow + LogWait;
        while (!berth.OutputTail(200).Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"berthd did not log \"{text}\" within {LogWait}:\n{berth.OutputTail()}");
            await Task.Delay(50);
        }
    }
}
