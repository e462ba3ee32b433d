using Berth.Api.Cri;
using Berth.Core.Errors;
using Berth.RuntimeService.Specs;
using Berth.Tests.Unit.Fakes;

namespace Berth.Tests.Unit.Runtime;

public sealed class SandboxManagerTests : IDisposable
{
    private readonly MiddleLayer _layer = new();

    public void Dispose() => _layer.Dispose();

    [Fact]
    public async Task ARunSandboxIsReadyWithItsFilesShmAndTheCgroupLevelsItMadeRecorded()
    {
        _layer.Node.MakeCgroup("/kubepods");

        var sandbox = await _layer.RunPodAsync();

        Assert.True(sandbox.Ready);
        Assert.Null(sandbox.NotReadyReason);
        Assert.Equal("web\n", File.ReadAllText(sandbox.Files.HostnamePath));
        Assert.Equal("nameserver 10.0.0.10\n", File.ReadAllText(sandbox.Files.ResolvConfPath));
        Assert.Contains(sandbox.Files.ShmPath, _layer.Node.Mounts);
        Assert.Equal(["/kubepods/podweb"], _layer.Store.CreatedCgroups());
        Assert.Contains($"/kubepods/podweb/{sandbox.Id}", _layer.Node.Cgroups);
    }

    [Fact]
    public async Task AHostNetworkPodGetsTheNodesHostnameAndHostsFile()
    {
        var config = _layer.PodConfig();
        config.Linux.SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption { Network = NamespaceMode.Node } };

        var sandbox = await _layer.RunPodAsync(config);

        Assert.Equal("node-1\n", File.ReadAllText(sandbox.Files.HostnamePath));
        Assert.Equal("127.0.0.1 localhost node-1\n", File.ReadAllText(sandbox.Files.HostsPath));
    }

    [Fact]
    public async Task TheSameNameTwiceIsAlreadyExistsNamingTheHolder()
    {
        var first = await _layer.RunPodAsync();

        var error = await Assert.ThrowsAsync<BerthException>(() => _layer.RunPodAsync());

        Assert.Equal(ErrorKind.AlreadyExists, error.Kind);
        Assert.Contains(first.Id, error.Message);
        Assert.Single(_layer.Registry.Sandboxes);
    }

    [Fact]
    public async Task ARequestThatCannotRunIsInvalidArgumentAndMakesNothing()
    {
        var config = _layer.PodConfig();
        config.LogDirectory = "relative/logs";

        var error = await Assert.ThrowsAsync<SpecException>(() => _layer.RunPodAsync(config));

        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("log_directory", error.Message);
        Assert.Empty(_layer.Store.Sandboxes());
        Assert.Empty(_layer.LeftFiles());
        Assert.Empty(_layer.Runtime.Shims);
    }

    [Fact]
    public async Task AnUnknownRuntimeHandlerIsInvalidArgument()
    {
        var error = await Assert.ThrowsAsync<BerthException>(() => _layer.Sandboxes.RunAsync(_layer.PodConfig(), "kata", CancellationToken.None));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Empty(_layer.Store.Sandboxes());
    }

    [Fact]
    public async Task ASandboxWhoseShimCannotBeSetUpLeavesNothing()
    {
        _layer.Runtime.CreateFailure = BerthException.FailedPrecondition("the pause stage exited before it was ready");

        var error = await Assert.ThrowsAsync<BerthException>(() => _layer.RunPodAsync());

        Assert.Contains("pause stage", error.Message);
        Assert.Empty(_layer.Store.Sandboxes());
        Assert.Empty(_layer.Store.CreatedCgroups());
        Assert.Empty(_layer.Registry.Sandboxes);
        Assert.Empty(_layer.Node.Mounts);
        Assert.Empty(_layer.Node.Cgroups);
        Assert.Empty(_layer.LeftFiles());
    }

    [Fact]
    public async Task AReaperThatExitsMakesTheSandboxNotReadyAndCreatesFailNamingWhy()
    {
        var sandbox = await _layer.RunPodAsync();

        _layer.Runtime[sandbox.Id].Exit(137, "Error");

        await MiddleLayer.EventuallyAsync(() => !sandbox.Ready, "the sandbox notices its reaper's exit");
        Assert.Equal(PodSandboxState.SandboxNotready, sandbox.CriState);
        var error = await Assert.ThrowsAsync<BerthException>(() => _layer.CreateAsync(sandbox));
        Assert.Equal(ErrorKind.FailedPrecondition, error.Kind);
        Assert.Equal($"pod sandbox {sandbox.Id} is not ready: its reaper process exited (exit code 137)", error.Message);
    }

    [Fact]
    public async Task AShimThatDiesMakesTheSandboxNotReadyAndStopAndRemoveStillClean()
    {
        var sandbox = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(sandbox);
        await _layer.Containers.StartAsync(container, CancellationToken.None);

        _layer.Runtime[sandbox.Id].Die();

        await MiddleLayer.EventuallyAsync(() => !sandbox.Ready, "the sandbox notices its shim's death");
        Assert.Equal("its shim is gone", sandbox.NotReadyReason);
        await _layer.Pods.StopAsync(sandbox);
        await _layer.Pods.RemoveAsync(sandbox);
        Assert.Empty(_layer.Registry.Sandboxes);
        Assert.Empty(_layer.Registry.Containers);
        Assert.Empty(_layer.Node.Cgroups);
        Assert.Empty(_layer.Node.Mounts);
        Assert.Empty(_layer.LeftFiles());
    }

    [Fact]
    public async Task ReadinessNeverComesBackAndTheFirstReasonStays()
    {
        var sandbox = await _layer.RunPodAsync();

        await _layer.Pods.StopAsync(sandbox);
        sandbox.MarkReady(42);
        sandbox.MarkNotReady("something later");

        Assert.False(sandbox.Ready);
        Assert.Equal("it was stopped", sandbox.NotReadyReason);
    }

    [Fact]
    public async Task RemovingAPodKillsOnlyItsOwnCgroupsAndLeavesASharedParentToTheLastPod()
    {
        var first = await _layer.RunPodAsync(_layer.PodConfig("first", "/shared"));
        var second = await _layer.RunPodAsync(_layer.PodConfig("second", "/shared"));
        var survivor = await _layer.CreateAsync(second);
        await _layer.Containers.StartAsync(survivor, CancellationToken.None);

        await _layer.Pods.RemoveAsync(first);

        Assert.DoesNotContain(_layer.Node.Killed, killed => CgroupPaths.IsAtOrBelow(survivor.Record.CgroupPath, killed));
        Assert.DoesNotContain("/shared", _layer.Node.Killed);
        Assert.Contains("/shared", _layer.Node.Cgroups);
        Assert.True(second.Ready);
        Assert.True(_layer.Runtime.HasShim(survivor.Id));

        await _layer.Pods.RemoveAsync(second);
        Assert.Empty(_layer.Node.Cgroups);
        Assert.Empty(_layer.Store.CreatedCgroups());
    }

    [Fact]
    public async Task ACgroupParentKubeletMadeIsNeverRemoved()
    {
        _layer.Node.MakeCgroup("/kubepods/podweb");
        var sandbox = await _layer.RunPodAsync();

        await _layer.Pods.RemoveAsync(sandbox);

        Assert.Equal(["/kubepods", "/kubepods/podweb"], _layer.Node.Cgroups.Order());
    }

    [Fact]
    public async Task RemoveWaitsForACreateUnderWayAndLaterCreatesAreRefusedAtOnce()
    {
        var sandbox = await _layer.RunPodAsync();
        var release = new TaskCompletionSource();
        _layer.Runtime.CreateGate = release.Task;
        var create = _layer.CreateAsync(sandbox);
        await MiddleLayer.EventuallyAsync(() => _layer.Registry.Containers.Count == 1, "the create is under way");

        var remove = _layer.Pods.RemoveAsync(sandbox);
        var late = await Assert.ThrowsAsync<BerthException>(() => _layer.CreateAsync(sandbox, "late"));
        Assert.Equal(ErrorKind.FailedPrecondition, late.Kind);
        Assert.False(remove.IsCompleted);

        release.SetResult();
        await create;
        await remove;
        Assert.Empty(_layer.Registry.Containers);
        Assert.Empty(_layer.Registry.Sandboxes);
        Assert.Empty(_layer.LeftFiles());
    }
}
