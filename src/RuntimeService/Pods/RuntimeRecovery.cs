using Berth.RuntimeService.Containers;
using Berth.RuntimeService.State;

namespace Berth.RuntimeService.Pods;

/// <summary>
/// At start: every sandbox and container the store knows is listed again, with the state its shim
/// reports, or the exit its shim recorded, or "lost" when neither is left (a reboot wiped the state
/// directory); kubelet then stops and removes what it no longer wants.
/// </summary>
public sealed class RuntimeRecovery(PodStore store, SandboxManager sandboxes, ContainerManager containers, ILogger<RuntimeRecovery> logger)
{
    public async Task RecoverAsync()
    {
        var sandboxRecords = store.Sandboxes();
        var containerRecords = store.Containers();
        await Task.WhenAll(sandboxRecords.Select(sandboxes.RecoverAsync));
        await Task.WhenAll(containerRecords.Select(containers.RecoverAsync));
        if (sandboxRecords.Count + containerRecords.Count > 0)
        {
            logger.LogInformation("Recovered {Sandboxes} pod sandboxes and {Containers} containers", sandboxRecords.Count, containerRecords.Count);
        }
    }
}
