using System.Threading.Channels;

namespace Berth.RuntimeService.Events;

/// <summary>
/// Fans events out to every subscriber, in one order for all of them, through a bounded queue per
/// subscriber. <see cref="Publish"/> never blocks or waits on a subscriber: a subscriber whose queue is
/// full is dropped at once (it is marked <see cref="EventSubscription{T}.HasFallenBehind"/> and its queue
/// completed), so a stalled client costs the runtime at most its queue; a subscriber that keeps up loses
/// nothing. containerd's CRI plugin drops events for a full subscriber without a word, and CRI-O's
/// publisher blocks on a full channel; kubelet's evented PLEG needs neither (kubernetes #121349): an
/// ended stream tells it to relist.
/// </summary>
public sealed class EventBroker<T>(int queueLength) where T : class
{
    private readonly object _gate = new();
    private EventSubscription<T>[] _subscribers = [];

    /// <summary>Events a subscriber may have waiting before it is dropped.</summary>
    public int QueueLength { get; } = queueLength > 0 ? queueLength : throw new ArgumentOutOfRangeException(nameof(queueLength));

    /// <summary>Whether anyone listens: publishers skip building an event nobody would read.</summary>
    public bool HasSubscribers => Volatile.Read(ref _subscribers).Length > 0;

    /// <summary>A new subscriber that receives every event published from now on, until it is disposed or falls behind.</summary>
    public EventSubscription<T> Subscribe()
    {
        var subscription = new EventSubscription<T>(this, QueueLength);
        lock (_gate)
        {
            _subscribers = [.. _subscribers, subscription];
        }
        return subscription;
    }

    /// <summary>
    /// Queues <paramref name="item"/> for every subscriber. Calls are ordered by the broker's lock, so every
    /// subscriber sees the same order; nothing in the lock waits (a full queue drops its subscriber).
    /// </summary>
    public void Publish(T item)
    {
        List<EventSubscription<T>>? dropped = null;
        lock (_gate)
        {
            foreach (var subscriber in _subscribers)
            {
                if (!subscriber.Queue.Writer.TryWrite(item))
                {
                    (dropped ??= []).Add(subscriber);
                }
            }
            if (dropped is not null)
            {
                _subscribers = [.. _subscribers.Except(dropped)];
            }
        }
        foreach (var subscriber in dropped ?? [])
        {
            subscriber.Drop();
        }
    }

    internal void Remove(EventSubscription<T> subscription)
    {
        lock (_gate)
        {
            _subscribers = [.. _subscribers.Where(subscriber => subscriber != subscription)];
        }
    }
}

/// <summary>One subscriber's queue of events; dispose it to unsubscribe.</summary>
public sealed class EventSubscription<T> : IDisposable where T : class
{
    private readonly EventBroker<T> _broker;
    private int _disposed;
    private volatile bool _hasFallenBehind;

    internal EventSubscription(EventBroker<T> broker, int queueLength)
    {
        _broker = broker;
        // The full mode is never used: the broker only TryWrites, and a failed TryWrite drops the subscriber.
        Queue = Channel.CreateBounded<T>(new BoundedChannelOptions(queueLength) { SingleReader = true, SingleWriter = false });
    }

    internal Channel<T> Queue { get; }

    /// <summary>The events in publication order; completes when the subscriber falls behind.</summary>
    public ChannelReader<T> Events => Queue.Reader;

    /// <summary>Whether this subscriber was dropped for falling behind: its queue overflowed.</summary>
    public bool HasFallenBehind => _hasFallenBehind;

    internal void Drop()
    {
        // Set before the queue completes: a reader that sees the end of the queue knows why.
        _hasFallenBehind = true;
        Queue.Writer.TryComplete();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _broker.Remove(this);
            Queue.Writer.TryComplete();
        }
    }
}
