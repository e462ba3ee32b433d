using Berth.RuntimeService.Events;

namespace Berth.Tests.Unit.Events;

public sealed class EventBrokerTests
{
    [Fact]
    public void EverySubscriberGetsEveryEventInPublicationOrder()
    {
        var broker = new EventBroker<string>(100);
        using var first = broker.Subscribe();
        using var second = broker.Subscribe();

        foreach (int i in Enumerable.Range(0, 50))
        {
            broker.Publish($"e{i}");
        }

        var expected = Enumerable.Range(0, 50).Select(i => $"e{i}").ToList();
        Assert.Equal(expected, first.Drain());
        Assert.Equal(expected, second.Drain());
    }

    [Fact]
    public async Task PublishersOnManyThreadsGiveEverySubscriberTheSameOrder()
    {
        var broker = new EventBroker<string>(10_000);
        using var first = broker.Subscribe();
        using var second = broker.Subscribe();

        await Task.WhenAll(Enumerable.Range(0, 8).Select(thread => Task.Run(() =>
        {
            for (int i = 0; i < 500; i++)
            {
                broker.Publish($"t{thread}-{i}");
            }
        })));

        var seen = first.Drain();
        Assert.Equal(4000, seen.Count);
        Assert.Equal(seen, second.Drain());
        // Each publisher's own events stay in its order.
        foreach (int thread in Enumerable.Range(0, 8))
        {
            Assert.Equal(Enumerable.Range(0, 500).Select(i => $"t{thread}-{i}"), seen.Where(item => item.StartsWith($"t{thread}-", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public void ASubscriberThatKeepsUpLosesNothingWhileAStalledOneIsDropped()
    {
        var broker = new EventBroker<string>(4);
        using var stalled = broker.Subscribe();
        using var reader = broker.Subscribe();
        var read = new List<string>();

        for (int i = 0; i < 20; i++)
        {
            broker.Publish($"e{i}");
            read.AddRange(reader.Drain());
        }

        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"e{i}"), read);
        Assert.True(stalled.HasFallenBehind);
        Assert.False(reader.HasFallenBehind);
        // What was queued before the overflow is still readable, then the queue ends.
        Assert.Equal(["e0", "e1", "e2", "e3"], stalled.Drain());
        Assert.True(stalled.Events.Completion.IsCompleted);
    }

    [Fact]
    public void ADroppedSubscriberGetsNoMoreEventsAndLeavesTheBroker()
    {
        var broker = new EventBroker<string>(1);
        using var stalled = broker.Subscribe();

        broker.Publish("kept");
        broker.Publish("overflow");
        broker.Publish("later");

        Assert.True(stalled.HasFallenBehind);
        Assert.Equal(["kept"], stalled.Drain());
        Assert.False(broker.HasSubscribers);
    }

    [Fact]
    public void DisposingUnsubscribes()
    {
        var broker = new EventBroker<string>(4);
        var subscription = broker.Subscribe();
        Assert.True(broker.HasSubscribers);

        subscription.Dispose();
        for (int i = 0; i < 10; i++)
        {
            broker.Publish("after");
        }

        Assert.False(broker.HasSubscribers);
        Assert.False(subscription.HasFallenBehind);
        Assert.Empty(subscription.Drain());
    }
}
