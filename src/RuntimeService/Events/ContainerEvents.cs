using Berth.RuntimeService.Pods;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Events;

/// <summary>
/// GetContainerEvents' source: a container or sandbox that changes state (Container.Advance and its
/// removal, a sandbox's readiness, its reaper's end and its removal: the one place each transition
/// happens) publishes an event here, which carries the pod's sandbox status and the statuses of its
/// containers as they are at that moment, as containerd's generateAndSendContainerEvent fills them and
/// kubelet's evented PLEG caches them. A sandbox's own events have container_id = the sandbox's ID.
/// A container's DELETED event no longer lists it; a sandbox's DELETED still carries its status, which
/// kubelet matches against the event's container_id to drop the pod from its cache.
/// </summary>
public sealed class ContainerEvents(RuntimeRegistry registry, EventBroker<Cri.ContainerEventResponse> broker)
{
    /// <summary>Where subscribers (GetContainerEvents calls) take the events from.</summary>
    public EventBroker<Cri.ContainerEventResponse> Broker => broker;

    // Stamping, the snapshot of the pod and the publication happen under one lock: across containers too,
    // events reach subscribers in created_at order, and a later event never carries an older snapshot.
    // Innermost: what it reads (statuses) takes only leaf locks.
    private readonly object _order = new();

    /// <summary>Publishes one event for <paramref name="containerId"/> (a sandbox's own ID for its own events) in the pod <paramref name="sandboxId"/>; nothing is built while nobody listens.</summary>
    public void Publish(string containerId, string sandboxId, Cri.ContainerEventType type)
    {
        if (!broker.HasSubscribers)
        {
            return;
        }
        lock (_order)
        {
            var item = new Cri.ContainerEventResponse
            {
                ContainerId = containerId,
                ContainerEventType = type,
                CreatedAt = Identifiers.NowNanoseconds(),
                PodSandboxStatus = registry.SandboxById(sandboxId) is { } sandbox ? CriStatus.Of(sandbox) : null,
            };
            item.ContainersStatuses.AddRange(registry.ContainersOf(sandboxId).OrderBy(container => container.Record.CreatedAt).Select(CriStatus.Of));
            broker.Publish(item);
        }
    }
}
