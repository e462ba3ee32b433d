using Berth.RuntimeService.Runtime;
using Berth.Tests.Unit.Fakes;

namespace Berth.Tests.Unit.Runtime;

/// <summary>A berthd restart: the store's records meet whatever the shims say, or left behind.</summary>
public sealed class RecoveryTests : IDisposable
{
    private readonly MiddleLayer _layer = new();

    public void Dispose() => _layer.Dispose();

    [Fact]
    public async Task LiveShimsAreFollowedAgainAndDeadOnesReported()
    {
        var alive = await _layer.RunPodAsync(_layer.PodConfig("alive"));
        var dead = await _layer.RunPodAsync(_layer.PodConfig("dead"));
        var running = await _layer.CreateAsync(alive, "running");
        await _layer.Containers.StartAsync(running, CancellationToken.None);
        var exited = await _layer.CreateAsync(alive, "exited");
        await _layer.Containers.StartAsync(exited, CancellationToken.None);
        var lost = await _layer.CreateAsync(alive, "lost");
        await _layer.Containers.StartAsync(lost, CancellationToken.None);

        // While berthd is down: one container exits (its shim records it), one shim is killed, one sandbox's shim dies.
        _layer.Rebuild();
        _layer.Runtime[exited.Id].Exit(3, "Error");
        _layer.Runtime[exited.Id].Die();
        _layer.Runtime[lost.Id].Die();
        _layer.Runtime.Shims.Single(shim => shim.Target.Id == dead.Id).Die();
        await _layer.Recovery.RecoverAsync();

        Assert.True(_layer.Registry.FindSandbox(alive.Id)!.Ready);
        Assert.Equal("its shim is gone", _layer.Registry.FindSandbox(dead.Id)!.NotReadyReason);
        Assert.Equal(ProcessStatus.Running, _layer.Registry.FindContainer(running.Id)!.State.Status);
        var recorded = _layer.Registry.FindContainer(exited.Id)!.State;
        Assert.Equal((ProcessStatus.Exited, 3, "Error"), (recorded.Status, recorded.ExitCode, recorded.Reason));
        Assert.Equal("Unknown", _layer.Registry.FindContainer(lost.Id)!.State.Reason);

        // And the watchers run again: an exit after the restart is seen.
        _layer.Runtime[running.Id].Exit(0, "Completed");
        await MiddleLayer.EventuallyAsync(() => _layer.Registry.FindContainer(running.Id)!.State.Status == ProcessStatus.Exited, "the recovered watcher sees the exit");
    }

    [Fact]
    public async Task AStrayShimSocketIsShutDownAndRemoved()
    {
        string stray = _layer.Paths.ShimSocket("0123456789abcdef0123456789abcdef");
        Directory.CreateDirectory(Path.GetDirectoryName(stray)!);
        File.WriteAllText(stray, "");

        await _layer.Recovery.RecoverAsync();

        Assert.False(File.Exists(stray));
        Assert.Contains("0123456789abcdef01234567", _layer.Runtime.ShutdownCalls);
    }

    [Fact]
    public async Task CgroupLevelsBerthMadeThatNoPodUsesAreRemovedAtStart()
    {
        _layer.Node.MakeCgroup("/left/over");
        _layer.Store.AddCreatedCgroups(["/left", "/left/over"]);

        await _layer.Recovery.RecoverAsync();

        Assert.Empty(_layer.Node.Cgroups);
        Assert.Empty(_layer.Store.CreatedCgroups());
    }
}
