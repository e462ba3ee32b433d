using Berth.RuntimeService.Containers;

namespace Berth.RuntimeService.Pods;

/// <summary>
/// StopPodSandbox and RemovePodSandbox across a pod's parts, in the order that leaves nothing behind:
/// the sandbox is closed to new containers first (creates under way finish), then its containers go,
/// then the sandbox. The managers do not call each other; this is the one place that uses both.
/// </summary>
public sealed class PodLifecycle(RuntimeRegistry registry, SandboxManager sandboxes, ContainerManager containers)
{
    /// <summary>
    /// Kills what still runs in the pod, then stops the reaper and releases the pod's namespaces.
    /// kubelet has already stopped each container with its own grace period, so anything left is killed
    /// at once, as containerd does. Idempotent.
    /// </summary>
    public Task StopAsync(Sandbox sandbox) => StopAsync(sandbox, "it was stopped");

    /// <summary>Stops the pod, removes its containers and every trace of the sandbox. Idempotent.</summary>
    public async Task RemoveAsync(Sandbox sandbox)
    {
        await StopAsync(sandbox, "it is being removed");
        await Task.WhenAll(registry.ContainersOf(sandbox.Id).ToList().Select(containers.RemoveAsync));
        await sandboxes.RemoveAsync(sandbox);
    }

    private async Task StopAsync(Sandbox sandbox, string reason)
    {
        await sandbox.CloseAsync(reason);
        await Task.WhenAll(registry.ContainersOf(sandbox.Id).ToList().Select(container => containers.StopAsync(container, TimeSpan.Zero)));
        await sandboxes.StopAsync(sandbox, reason);
    }
}
