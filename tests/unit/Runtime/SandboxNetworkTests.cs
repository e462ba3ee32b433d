using Berth.Core.Errors;
using Berth.RuntimeService.Network;
using Berth.Tests.Unit.Fakes;
using Cri = Berth.Api.Cri;

namespace Berth.Tests.Unit.Runtime;

/// <summary>The sandbox manager and the pod network: ADD before ready, DEL before the netns goes, what a failure or a restart leaves.</summary>
public sealed class SandboxNetworkTests : IDisposable
{
    private readonly MiddleLayer _layer = new();

    public void Dispose() => _layer.Dispose();

    private string Pin(string id) => Path.Combine(_layer.Paths.NamespaceDir(id), "net");

    [Fact]
    public async Task ARunPodIsAttachedThroughItsPinnedNetnsBeforeItIsReadyAndItsHostsFileNamesItsIps()
    {
        var sandbox = await _layer.RunPodAsync();

        Assert.Equal([$"ADD {sandbox.Id} {Pin(sandbox.Id)}"], _layer.Network.Calls);
        Assert.True(sandbox.Ready);
        Assert.Equal("10.0.0.1", sandbox.Network!.Ip);
        Assert.Equal(["fd00::1"], sandbox.Network.AdditionalIps);
        string hosts = File.ReadAllText(sandbox.Files.HostsPath);
        Assert.Contains("10.0.0.1\tweb\n", hosts);
        Assert.Contains("fd00::1\tweb\n", hosts);
    }

    [Fact]
    public async Task TheNetnsIsPinnedBeforeAddAndTheReaperJoinsItByPath()
    {
        var gate = new TaskCompletionSource();
        _layer.Runtime.CreateGate = gate.Task;

        var running = _layer.RunPodAsync();
        // ADD does not wait for the shim: it runs in the netns berthd pinned, while the reaper is set up.
        string id = await WhenAddedAsync();
        Assert.Contains(Pin(id), _layer.Node.Mounts);
        Assert.False(running.IsCompleted);
        gate.SetResult();
        var sandbox = await running;

        var spec = Berth.Api.Shim.OciJson.ParseSpec(File.ReadAllBytes(Berth.Api.Shim.BundleLayout.ConfigPath(sandbox.Shim.Bundle)));
        Assert.Equal(Pin(id), spec.Linux!.Namespaces!.Single(ns => ns.Type == "network").Path);
        await _layer.Pods.StopAsync(sandbox);
        Assert.DoesNotContain(Pin(id), _layer.Node.Mounts);
    }

    [Fact]
    public async Task AShimThatFailsWhileAddSucceedsIsUndoneWithTheShimsMessageAndDel()
    {
        _layer.Runtime.CreateFailure = BerthException.FailedPrecondition("the pause stage exited before it was ready");

        var error = await Assert.ThrowsAsync<BerthException>(() => _layer.RunPodAsync());

        Assert.Contains("pause stage", error.Message);
        string id = _layer.Network.Calls.First().Split(' ')[1];
        Assert.Equal([$"ADD {id} {Pin(id)}", $"DEL {id} {Pin(id)}"], _layer.Network.Calls);
        Assert.Empty(_layer.Network.Attachments);
        Assert.Empty(_layer.Store.Sandboxes());
        Assert.Empty(_layer.Node.Mounts);
        Assert.Empty(_layer.LeftFiles());
    }

    private async Task<string> WhenAddedAsync()
    {
        for (int attempt = 0; attempt < 500 && _layer.Network.Calls.IsEmpty; attempt++)
        {
            await Task.Delay(10);
        }
        return _layer.Network.Calls.First().Split(' ')[1];
    }

    [Fact]
    public async Task AHostNetworkPodSkipsTheNetwork()
    {
        var config = _layer.PodConfig();
        config.Linux.SecurityContext = new Cri.LinuxSandboxSecurityContext { NamespaceOptions = new Cri.NamespaceOption { Network = Cri.NamespaceMode.Node } };

        var sandbox = await _layer.RunPodAsync(config);
        await _layer.Pods.RemoveAsync(sandbox);

        Assert.Empty(_layer.Network.Calls);
        Assert.Null(sandbox.Network);
    }

    [Fact]
    public async Task AFailedAddIsDeletedAndThePodReleasedWithThePluginsMessage()
    {
        _layer.Network.AddFailure = new CniPluginException(ErrorKind.Unavailable, "bridge", "ADD", 11, "CNI plugin bridge failed (ADD): no more addresses");

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _layer.RunPodAsync());

        Assert.Contains("no more addresses", error.Message);
        string id = _layer.Network.Calls.First().Split(' ')[1];
        Assert.Equal([$"ADD {id} {Pin(id)}", $"DEL {id} {Pin(id)}"], _layer.Network.Calls);
        Assert.Empty(_layer.Network.Attachments);
        Assert.Empty(_layer.Store.Sandboxes());
        Assert.Empty(_layer.Registry.Sandboxes);
        Assert.Empty(_layer.Node.Mounts);
        Assert.Empty(_layer.LeftFiles());
        Assert.False(_layer.Runtime.HasShim(id));
    }

    [Fact]
    public async Task WhenDelFailsTooAfterAFailedAddThePodIsStillReleasedAndTheAttachmentKeptForGc()
    {
        _layer.Network.AddFailure = BerthException.Unavailable("add failed");
        _layer.Network.DeleteFailure = BerthException.Unavailable("del failed");

        await Assert.ThrowsAsync<BerthException>(() => _layer.RunPodAsync());

        Assert.Single(_layer.Network.Attachments);
        Assert.Empty(_layer.Store.Sandboxes());
        Assert.Empty(_layer.LeftFiles());

        _layer.Network.DeleteFailure = null;
        _layer.Rebuild();
        await _layer.Recovery.RecoverAsync();
        Assert.Equal("GC ", _layer.Network.Calls.Last());
        Assert.Empty(_layer.Network.Attachments);
    }

    [Fact]
    public async Task StopDeletesTheAttachmentBeforeTheShimUnpinsTheNetns()
    {
        var sandbox = await _layer.RunPodAsync();
        _layer.Network.DeleteFailure = BerthException.Unavailable("CNI plugin portmap failed (DEL): iptables is locked");

        var error = await Assert.ThrowsAsync<BerthException>(() => _layer.Pods.StopAsync(sandbox));

        Assert.Contains("iptables is locked", error.Message);
        Assert.True(_layer.Runtime.HasShim(sandbox.Id), "the netns must stay while its DEL has not succeeded");
        Assert.False(sandbox.Ready);

        _layer.Network.DeleteFailure = null;
        await _layer.Pods.StopAsync(sandbox);
        await _layer.Pods.RemoveAsync(sandbox);
        Assert.False(_layer.Runtime.HasShim(sandbox.Id));
        Assert.Empty(_layer.Network.Attachments);
        Assert.Equal(2, _layer.Network.Calls.Count(call => call.StartsWith("DEL", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task AfterARestartAPodKeepsItsIpsAndIsChecked()
    {
        var whole = await _layer.RunPodAsync(_layer.PodConfig("whole"));

        _layer.Rebuild();
        await _layer.Recovery.RecoverAsync();

        var recovered = _layer.Registry.RequireSandbox(whole.Id);
        Assert.True(recovered.Ready);
        Assert.Equal(whole.Network, recovered.Network);
        Assert.Contains($"CHECK {whole.Id}", _layer.Network.Calls);
        Assert.Equal($"GC {whole.Id}", _layer.Network.Calls.Last());
    }

    [Fact]
    public async Task ARecoveredPodWithAnUnfinishedAddOrAFailedCheckIsNotReadyAndStillDetachedAtStop()
    {
        var sandbox = await _layer.RunPodAsync();
        _layer.Network.Attachments[sandbox.Id] = null;

        _layer.Rebuild();
        await _layer.Recovery.RecoverAsync();
        var unfinished = _layer.Registry.RequireSandbox(sandbox.Id);
        Assert.Equal("its network was never set up (berthd stopped during RunPodSandbox)", unfinished.NotReadyReason);

        await _layer.Pods.RemoveAsync(unfinished);
        Assert.Contains($"DEL {sandbox.Id} {Pin(sandbox.Id)}", _layer.Network.Calls);
        Assert.Empty(_layer.Network.Attachments);

        var other = await _layer.RunPodAsync(_layer.PodConfig("other"));
        _layer.Network.CheckFailure = "CNI plugin bridge failed (CHECK): eth0 is missing";
        _layer.Rebuild();
        await _layer.Recovery.RecoverAsync();
        Assert.Equal("its network failed CHECK: CNI plugin bridge failed (CHECK): eth0 is missing", _layer.Registry.RequireSandbox(other.Id).NotReadyReason);
    }

    [Fact]
    public async Task AnUnusableBandwidthAnnotationIsInvalidArgumentBeforeAnythingIsMade()
    {
        var config = _layer.PodConfig();
        config.Annotations.Add(PodNetworkRequest.IngressBandwidthAnnotation, "10");

        var error = await Assert.ThrowsAnyAsync<BerthException>(() => _layer.RunPodAsync(config));

        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("unreasonably small", error.Message);
        Assert.Empty(_layer.Network.Calls);
        Assert.Empty(_layer.Store.Sandboxes());
    }
}
