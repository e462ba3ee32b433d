using Berth.RuntimeService.Events;

namespace Berth.Tests.Unit.Events;

internal static class Subscriptions
{
    /// <summary>Every event queued for the subscriber now, in order.</summary>
    public static List<T> Drain<T>(this EventSubscription<T> subscription) where T : class
    {
        var items = new List<T>();
        while (subscription.Events.TryRead(out var item))
        {
            items.Add(item);
        }
        return items;
    }
}
