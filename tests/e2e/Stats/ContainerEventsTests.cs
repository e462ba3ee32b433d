using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Pods;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.NetworkTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Stats;

/// <summary>GetContainerEvents as kubelet's evented PLEG and `crictl events` meet it: real pods, real exits, two subscribers, a stalled one.</summary>
public sealed class ContainerEventsTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>A subscriber that reads every event into a list until cancelled.</summary>
    private sealed class Subscriber : IAsyncDisposable
    {
        private int _disposed;
        private readonly AsyncServerStreamingCall<ContainerEventResponse> _call;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _reading;
        private readonly List<ContainerEventResponse> _events = [];

        private Subscriber(AsyncServerStreamingCall<ContainerEventResponse> call)
        {
            _call = call;
            _reading = Task.Run(async () =>
            {
                try
                {
                    await foreach (var item in call.ResponseStream.ReadAllAsync(_stop.Token))
                    {
                        lock (_events)
                        {
                            _events.Add(item);
                        }
                    }
                }
                catch (RpcException error) when (error.StatusCode == StatusCode.Cancelled)
                {
                }
                catch (OperationCanceledException)
                {
                }
            });
        }

        public static async Task<Subscriber> StartAsync(BerthDaemon berth)
        {
            var call = berth.Runtime.GetContainerEvents(new GetEventsRequest());
            await call.ResponseHeadersAsync;      // sent once the daemon has subscribed the call
            return new Subscriber(call);
        }

        public List<ContainerEventResponse> Events
        {
            get
            {
                lock (_events)
                {
                    return [.. _events];
                }
            }
        }

        public async Task<ContainerEventResponse> WaitForAsync(string id, ContainerEventType type)
        {
            var deadline = DateTime.UtcNow + Patience;
            while (true)
            {
                if (Events.FirstOrDefault(item => item.ContainerId == id && item.ContainerEventType == type) is { } found)
                {
                    return found;
                }
                Assert.True(DateTime.UtcNow < deadline, $"no {type} for {id} within {Patience.TotalSeconds} s; saw {string.Join(", ", Events.Select(e => e.ContainerEventType))}");
                Assert.False(_reading.IsCompleted, "the event stream ended");
                await Task.Delay(50);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
            await _stop.CancelAsync();
            await _reading;
            _call.Dispose();
        }
    }

    [Fact]
    public async Task TwoSubscribersSeeAFullLifecycleInOrderWithTheStatusesKubeletReads()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        await using var first = await Subscriber.StartAsync(berth);
        await using var second = await Subscriber.StartAsync(berth);
        var pod = PodConfig(berth);

        var podId = await berth.RunPodAsync(pod);
        var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "app", "sh", "-c", "sleep 0.5; exit 3"));
        await berth.StartContainerAsync(id);
        // No StopContainer: the process ends on its own, and that is the event.
        var stopped = await first.WaitForAsync(id, ContainerEventType.ContainerStoppedEvent);
        await berth.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id });
        await berth.RemoveLeavingNothingAsync(podId, pod);
        await first.WaitForAsync(podId, ContainerEventType.ContainerDeletedEvent);
        await second.WaitForAsync(podId, ContainerEventType.ContainerDeletedEvent);

        (string, ContainerEventType)[] expected =
        [
            (podId, ContainerEventType.ContainerCreatedEvent),
            (podId, ContainerEventType.ContainerStartedEvent),
            (id, ContainerEventType.ContainerCreatedEvent),
            (id, ContainerEventType.ContainerStartedEvent),
            (id, ContainerEventType.ContainerStoppedEvent),
            (id, ContainerEventType.ContainerDeletedEvent),
            (podId, ContainerEventType.ContainerStoppedEvent),
            (podId, ContainerEventType.ContainerDeletedEvent),
        ];
        Assert.Equal(expected, first.Events.Select(item => (item.ContainerId, item.ContainerEventType)));
        Assert.Equal(expected, second.Events.Select(item => (item.ContainerId, item.ContainerEventType)));
        Assert.Equal(first.Events.Select(item => item.CreatedAt), second.Events.Select(item => item.CreatedAt));
        // What kubelet's evented PLEG caches: the pod's status (its UID keys the cache) and its containers'.
        Assert.All(first.Events, item => Assert.Equal(pod.Metadata.Uid, item.PodSandboxStatus.Metadata.Uid));
        var exited = Assert.Single(stopped.ContainersStatuses);
        Assert.Equal(ContainerState.ContainerExited, exited.State);
        Assert.Equal(3, exited.ExitCode);
        Assert.Equal(PodSandboxState.SandboxReady, stopped.PodSandboxStatus.State);
        Assert.Equal(podId, first.Events[^1].PodSandboxStatus.Id);
        Assert.Equal(PodSandboxState.SandboxNotready, first.Events[^1].PodSandboxStatus.State);
    }

    [Fact]
    public async Task AStalledSubscriberIsEndedWithResourceExhaustedWhileCreatesGoOn()
    {
        await using var berth = await BerthDaemon.StartAsync(new { containerEventsQueueLength = 4 });
        await berth.PullAsync(registry.Busybox.Reference);
        using var stalled = berth.Runtime.GetContainerEvents(new GetEventsRequest());
        await stalled.ResponseHeadersAsync;
        await using var reader = await Subscriber.StartAsync(berth);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);

        // Each event carries every container of the pod, 16 KiB of annotation each: the stalled stream's
        // transport buffers fill after a few, then its queue of 4.
        var ids = new List<string>();
        for (int i = 0; i < 16; i++)
        {
            var config = ContainerConfig(registry.Busybox, $"c{i}", "sleep", "300");
            config.Annotations.Add("padding", new string('x', 16 << 10));
            ids.Add(await berth.CreateContainerAsync(podId, pod, config));
        }
        await reader.WaitForAsync(ids[^1], ContainerEventType.ContainerCreatedEvent);

        using var timeout = new CancellationTokenSource(Patience);
        int delivered = 0;
        var ended = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await stalled.ResponseStream.MoveNext(timeout.Token))
            {
                delivered++;
            }
        });
        Assert.Equal(StatusCode.ResourceExhausted, ended.StatusCode);
        Assert.Contains("fell behind", ended.Status.Detail);
        Assert.Contains("containerEventsQueueLength", ended.Status.Detail);
        Assert.InRange(delivered, 4, 17);
        // The subscriber that kept up lost nothing.
        Assert.Equal(ids, reader.Events.Where(item => item.ContainerEventType == ContainerEventType.ContainerCreatedEvent && item.ContainerId != podId)
            .Select(item => item.ContainerId));
        // Gone before the teardown, whose burst of 32 events of up to 256 KiB a queue of 4 is not meant to absorb.
        await reader.DisposeAsync();
        await berth.RemoveLeavingNothingAsync(podId, pod);
    }
}
