using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Network;
using Berth.RuntimeService.Runtime;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.State;

namespace Berth.RuntimeService.Pods;

/// <summary>
/// At start: every sandbox and container the store knows is listed again, with the state its shim
/// reports, or the exit its shim recorded, or "lost" when neither is left (a reboot wiped the state
/// directory); kubelet then stops and removes what it no longer wants. What belongs to no record is
/// cleaned: shim sockets left by killed shims, cgroup levels berth made that no pod uses, and network
/// attachments (IP leases, veths, rules) of pods that no longer exist (CNI GC, as CRI-O does at start).
/// </summary>
public sealed class RuntimeRecovery(
    PodStore store, RuntimePaths paths, IShimRuntime runtime, SandboxManager sandboxes, ContainerManager containers,
    IPodNetwork network, ILogger<RuntimeRecovery> logger)
{
    public async Task RecoverAsync()
    {
        var sandboxRecords = store.Sandboxes();
        var containerRecords = store.Containers();
        await Task.WhenAll(sandboxRecords.Select(sandboxes.RecoverAsync));
        await Task.WhenAll(containerRecords.Select(containers.RecoverAsync));
        await ShutDownStrayShimsAsync(sandboxRecords.Select(record => record.Id).Concat(containerRecords.Select(record => record.Id)));
        await sandboxes.PruneCgroupLevelsAsync();
        await network.CollectGarbageAsync(sandboxRecords.Select(record => record.Id).ToHashSet(StringComparer.Ordinal), CancellationToken.None);
        if (sandboxRecords.Count + containerRecords.Count > 0)
        {
            logger.LogInformation("Recovered {Sandboxes} pod sandboxes and {Containers} containers", sandboxRecords.Count, containerRecords.Count);
        }
    }

    /// <summary>Shims (or the sockets of dead ones) that belong to no record are shut down and their sockets removed.</summary>
    private async Task ShutDownStrayShimsAsync(IEnumerable<string> ids)
    {
        if (!Directory.Exists(paths.ShimSocketDir))
        {
            return;
        }
        var known = ids.Select(paths.ShimSocket).ToHashSet(StringComparer.Ordinal);
        foreach (string socket in Directory.EnumerateFiles(paths.ShimSocketDir).Where(socket => !known.Contains(socket)))
        {
            logger.LogInformation("Shutting down the stray shim at {Socket}", socket);
            await runtime.ShutdownAsync(new ShimTarget(Path.GetFileNameWithoutExtension(socket), "", socket), CancellationToken.None);
        }
    }
}
