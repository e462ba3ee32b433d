using Berth.Api.Cri;
using Berth.RuntimeService.Events;
using Berth.RuntimeService.Runtime;
using Berth.Tests.Unit.Fakes;
using Container = Berth.RuntimeService.Containers.Container;

namespace Berth.Tests.Unit.Events;

/// <summary>Which state changes of the middle layer publish which container events, and what the events carry.</summary>
public sealed class ContainerEventsTests : IDisposable
{
    private readonly MiddleLayer _layer = new();

    public void Dispose() => _layer.Dispose();

    private static (string Id, ContainerEventType Type) Short(ContainerEventResponse item) => (item.ContainerId, item.ContainerEventType);

    [Theory]
    [InlineData(ProcessStatus.Creating, ProcessStatus.Created, 0, new[] { ContainerEventType.ContainerCreatedEvent })]
    [InlineData(ProcessStatus.Created, ProcessStatus.Running, 1, new[] { ContainerEventType.ContainerStartedEvent })]
    [InlineData(ProcessStatus.Running, ProcessStatus.Exited, 1, new[] { ContainerEventType.ContainerStoppedEvent })]
    [InlineData(ProcessStatus.Created, ProcessStatus.Exited, 1, new[] { ContainerEventType.ContainerStartedEvent, ContainerEventType.ContainerStoppedEvent })]
    [InlineData(ProcessStatus.Created, ProcessStatus.Exited, 0, new[] { ContainerEventType.ContainerStoppedEvent })]
    [InlineData(ProcessStatus.Creating, ProcessStatus.Running, 1, new[] { ContainerEventType.ContainerCreatedEvent, ContainerEventType.ContainerStartedEvent })]
    [InlineData(ProcessStatus.Creating, ProcessStatus.Exited, 1,
        new[] { ContainerEventType.ContainerCreatedEvent, ContainerEventType.ContainerStartedEvent, ContainerEventType.ContainerStoppedEvent })]
    public void AStepForwardPublishesOneEventPerStageItCrosses(ProcessStatus from, ProcessStatus to, long startedAt, ContainerEventType[] expected) =>
        Assert.Equal(expected, Container.Transitions.EventsOf(from, new ProcessState(to, StartedAt: startedAt)));

    [Fact]
    public async Task AFullLifecyclePublishesEveryEventInOrderWithThePodsStatus()
    {
        using var subscription = _layer.Events.Subscribe();
        var sandbox = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(sandbox);
        await _layer.Containers.StartAsync(container, CancellationToken.None);
        _layer.Runtime[container.Id].Exit(0, "Completed");
        await container.Exited;
        await _layer.Containers.RemoveAsync(container);
        await _layer.Pods.StopAsync(sandbox);
        await _layer.Pods.RemoveAsync(sandbox);

        var events = subscription.Drain();

        Assert.Equal(
        [
            (sandbox.Id, ContainerEventType.ContainerCreatedEvent),
            (sandbox.Id, ContainerEventType.ContainerStartedEvent),
            (container.Id, ContainerEventType.ContainerCreatedEvent),
            (container.Id, ContainerEventType.ContainerStartedEvent),
            (container.Id, ContainerEventType.ContainerStoppedEvent),
            (container.Id, ContainerEventType.ContainerDeletedEvent),
            (sandbox.Id, ContainerEventType.ContainerStoppedEvent),
            (sandbox.Id, ContainerEventType.ContainerDeletedEvent),
        ], events.Select(Short));
        Assert.All(events, item => Assert.Equal(sandbox.Id, item.PodSandboxStatus.Id));
        Assert.All(events, item => Assert.Equal("uid-web", item.PodSandboxStatus.Metadata.Uid));
        Assert.Equal(PodSandboxState.SandboxReady, events[2].PodSandboxStatus.State);
        Assert.Equal(PodSandboxState.SandboxNotready, events[6].PodSandboxStatus.State);
        // Each event carries the containers as they were then: created, running, exited, then gone.
        Assert.Equal(ContainerState.ContainerCreated, events[2].ContainersStatuses.Single().State);
        Assert.Equal(ContainerState.ContainerRunning, events[3].ContainersStatuses.Single().State);
        Assert.Equal(ContainerState.ContainerExited, events[4].ContainersStatuses.Single().State);
        Assert.Equal("Completed", events[4].ContainersStatuses.Single().Reason);
        Assert.Empty(events[5].ContainersStatuses);
        Assert.True(events.Zip(events.Skip(1)).All(pair => pair.First.CreatedAt <= pair.Second.CreatedAt));
    }

    [Fact]
    public async Task AContainerThatExitsBeforeTheStartReplyIsAppliedStillReportsStartedThenStopped()
    {
        using var subscription = _layer.Events.Subscribe();
        var sandbox = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(sandbox);
        _layer.Runtime.BeforeStartReply = async target =>
        {
            _layer.Runtime[target.Id].Exit(1, "Error");
            await MiddleLayer.EventuallyAsync(() => container.State.Status == ProcessStatus.Exited, "the watcher records the exit");
        };

        await _layer.Containers.StartAsync(container, CancellationToken.None);

        Assert.Equal(
        [
            ContainerEventType.ContainerCreatedEvent, ContainerEventType.ContainerStartedEvent, ContainerEventType.ContainerStoppedEvent,
        ], subscription.Drain().Where(item => item.ContainerId == container.Id).Select(item => item.ContainerEventType));
    }

    [Fact]
    public async Task APodRemovedWithItsContainersRunningReportsEachOnceInTheOrderOfTheTeardown()
    {
        var sandbox = await _layer.RunPodAsync();
        var first = await _layer.CreateAsync(sandbox, "first");
        var second = await _layer.CreateAsync(sandbox, "second");
        await _layer.Containers.StartAsync(first, CancellationToken.None);
        using var subscription = _layer.Events.Subscribe();

        // Twice, as kubelet retries: the second finds nothing left to report.
        await Task.WhenAll(_layer.Pods.RemoveAsync(sandbox), _layer.Pods.RemoveAsync(sandbox));

        var events = subscription.Drain().Select(Short).ToList();
        Assert.Equal(1, events.Count(item => item == (first.Id, ContainerEventType.ContainerStoppedEvent)));
        Assert.Equal(1, events.Count(item => item == (second.Id, ContainerEventType.ContainerStoppedEvent)));
        Assert.Equal(1, events.Count(item => item == (first.Id, ContainerEventType.ContainerDeletedEvent)));
        Assert.Equal(1, events.Count(item => item == (second.Id, ContainerEventType.ContainerDeletedEvent)));
        Assert.Equal(6, events.Count);
        // Stop comes first (containers, then the reaper), then the containers go, then the sandbox.
        int sandboxStopped = events.IndexOf((sandbox.Id, ContainerEventType.ContainerStoppedEvent));
        Assert.Equal(2, sandboxStopped);
        Assert.Equal((sandbox.Id, ContainerEventType.ContainerDeletedEvent), events[^1]);
    }

    [Fact]
    public async Task AFailedCreateAndAFailedRunPublishNothing()
    {
        var sandbox = await _layer.RunPodAsync();
        using var subscription = _layer.Events.Subscribe();
        _layer.Runtime.CreateFailure = new Berth.Core.Errors.BerthException(Berth.Core.Errors.ErrorKind.FailedPrecondition, "no");

        await Assert.ThrowsAnyAsync<Exception>(() => _layer.CreateAsync(sandbox));
        _layer.Runtime.CreateFailure = new Berth.Core.Errors.BerthException(Berth.Core.Errors.ErrorKind.FailedPrecondition, "no");
        await Assert.ThrowsAnyAsync<Exception>(() => _layer.RunPodAsync(_layer.PodConfig("other", "/kubepods/podother")));

        Assert.Empty(subscription.Drain());
    }

    [Fact]
    public async Task AReaperThatExitsOnItsOwnReportsTheSandboxStoppedOnce()
    {
        var sandbox = await _layer.RunPodAsync();
        using var subscription = _layer.Events.Subscribe();

        _layer.Runtime[sandbox.Id].Exit(137, "Error");
        await MiddleLayer.EventuallyAsync(() => !sandbox.Ready, "the watcher marks the sandbox not ready");
        await MiddleLayer.EventuallyAsync(() => subscription.Events.Count > 0, "the stop is published");
        await _layer.Pods.StopAsync(sandbox);

        var events = subscription.Drain();
        Assert.Equal([(sandbox.Id, ContainerEventType.ContainerStoppedEvent)], events.Select(Short));
        Assert.Equal(PodSandboxState.SandboxNotready, events[0].PodSandboxStatus.State);
    }
}
