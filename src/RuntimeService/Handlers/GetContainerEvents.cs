using Berth.Core.Errors;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>
    /// Every container and sandbox event from the call on, in order (see <see cref="Events.ContainerEvents"/>),
    /// until the caller cancels or the daemon stops (the stream then ends OK). A caller that stops reading
    /// until its queue (config containerEventsQueueLength) overflows is ended with RESOURCE_EXHAUSTED: the
    /// runtime never waits for it, and it must subscribe again and relist, as kubelet's evented PLEG does.
    /// The response headers are sent once the caller is subscribed.
    /// </summary>
    public override async Task GetContainerEvents(Cri.GetEventsRequest request, IServerStreamWriter<Cri.ContainerEventResponse> responseStream, ServerCallContext context)
    {
        using var subscription = events.Broker.Subscribe();
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, DaemonStopping);
        try
        {
            // Headers now, not with the first event: a caller that awaits them knows it is subscribed.
            await context.WriteResponseHeadersAsync([]);
            while (await subscription.Events.WaitToReadAsync(ended.Token))
            {
                while (subscription.Events.TryRead(out var item))
                {
                    // Dropped: what is still queued is not sent. The write in flight is let finish (cancelling it
                    // would reset the stream), so a caller that reads again sees the status after it.
                    if (subscription.HasFallenBehind)
                    {
                        throw FellBehind();
                    }
                    await responseStream.WriteAsync(item, ended.Token);
                }
            }
        }
        catch (OperationCanceledException) when (DaemonStopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            return;
        }
        // The queue completes only when the subscriber is dropped.
        throw FellBehind();
    }

    private BerthException FellBehind() => BerthException.ResourceExhausted(
        $"this event stream fell behind: more than {events.Broker.QueueLength} events were waiting unread (containerEventsQueueLength), "
        + "so it was ended and events after that were not sent on it; subscribe again and relist");
}
