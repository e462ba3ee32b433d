using Berth.Api.Shim;
using Berth.Core;
using Berth.Core.Errors;
using Berth.RuntimeService.Events;
using Berth.RuntimeService.Network;
using Berth.RuntimeService.Node;
using Berth.RuntimeService.Runtime;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.State;
using Google.Protobuf;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Pods;

/// <summary>
/// Runs, stops and removes pod sandboxes. A sandbox needs no pause image: its shim runs a built-in
/// reaper in the pod's new network, IPC, UTS and pid namespaces and pins them under the state
/// directory, where the pod's containers join them; the pinned netns then joins the pod network (CNI
/// ADD) before the sandbox is ready, and leaves it (DEL) before the pin goes. A watcher per sandbox
/// marks it not ready the moment its reaper or its shim dies, so kubelet rebuilds the pod.
/// </summary>
public sealed class SandboxManager(
    PodStore store, RuntimeRegistry registry, RuntimePaths paths, IShimRuntime runtime, INodeOperations node,
    IPodNetwork network, ICgroupDriver cgroups, Func<NodeFacts> nodeFacts, NodeSecurity security, ContainerEvents events,
    ILogger<SandboxManager> logger)
{
    /// <summary>Serialises what decides the life of berth-made cgroup levels: recording them for a new pod, and pruning them.</summary>
    private readonly SemaphoreSlim _cgroupLevels = new(1, 1);

    /// <summary>
    /// Runs a sandbox. The plan is made and checked first, then the name is reserved, then the node is
    /// prepared and the pod attached to its network; a failure after the reservation removes what was
    /// made, DEL included. Throws InvalidArgument (the request cannot run), AlreadyExists (the name is
    /// reserved), FailedPrecondition or Unavailable (the reaper or its shim could not be set up, or the
    /// pod network is not ready), or a CNI plugin's own failure (Unavailable, DeadlineExceeded).
    /// </summary>
    public async Task<Sandbox> RunAsync(Cri.PodSandboxConfig config, string runtimeHandler, CancellationToken daemonStopping)
    {
        if (runtimeHandler.Length > 0)
        {
            throw BerthException.InvalidArgument($"runtime handler '{runtimeHandler}' is not configured; berth has only the default handler");
        }
        string id = Identifiers.New();
        SandboxPlan plan;
        using (Telemetry.Source.StartActivity("sandbox.plan"))
        {
            plan = SandboxPlanner.Plan(new SandboxPlanInput(config, id, paths, nodeFacts() with { Cgroups = cgroups.Naming }, security));
        }
        var record = new SandboxRecord(id, plan.Name, config.ToByteArray(), Identifiers.NowNanoseconds(), plan.PodCgroup, runtimeHandler);
        var sandbox = new Sandbox(record, config, paths, events);
        await _cgroupLevels.WaitAsync(CancellationToken.None);
        try
        {
            if (store.TryAdd(record) is { } existing)
            {
                throw BerthException.AlreadyExists($"pod sandbox name {record.Name} is reserved for {existing}");
            }
            // kubelet makes and removes its own pod cgroups; levels that do not exist yet are berth's to remove.
            store.AddCreatedCgroups(CgroupPaths.Levels(plan.PodCgroup).Where(level => !node.CgroupExists(level)).ToList());
            registry.Add(sandbox);
        }
        finally
        {
            _cgroupLevels.Release();
        }
        try
        {
            await SetUpAsync(sandbox, plan, daemonStopping);
        }
        catch
        {
            try
            {
                await StopAsync(sandbox, "it could not be set up", networkFailureStopsTeardown: false);
                await RemoveAsync(sandbox);
            }
            catch (Exception cleanup)
            {
                logger.LogError(cleanup, "Pod sandbox {Id}: removing what a failed run left failed", id);
            }
            throw;
        }
        logger.LogInformation("Pod sandbox {Id} ({Name}) is ready", sandbox.Id, record.Name);
        return sandbox;
    }

    private async Task SetUpAsync(Sandbox sandbox, SandboxPlan plan, CancellationToken ct)
    {
        using (Telemetry.Source.StartActivity("sandbox.bundle"))
        {
            Directory.CreateDirectory(plan.Bundle);
            Directory.CreateDirectory(plan.NamespaceDir);
            foreach (var file in plan.Files)
            {
                File.WriteAllText(file.Path, file.Content);
            }
            Directory.CreateDirectory(plan.ShmPath);
            if (plan.MountShm)
            {
                node.MountTmpfs(plan.ShmPath, SandboxPlanner.ShmOptions);
            }
            OciJson.WriteSpec(BundleLayout.ConfigPath(plan.Bundle), plan.Spec);
            ShimJson.WriteOptions(BundleLayout.OptionsPath(plan.Bundle), plan.Options with { CgroupMounts = node.CgroupMounts });
        }
        using (Telemetry.Source.StartActivity("cgroup.prepare_pod"))
        {
            await cgroups.PreparePodAsync(plan.PodCgroup, ct);
        }
        ProcessState state;
        if (plan.Network is null)
        {
            state = await runtime.CreateAsync(sandbox.Shim, ct);
        }
        else
        {
            using (Telemetry.Source.StartActivity("netns.create"))
            {
                node.CreateNetworkNamespace(NetnsPin(sandbox));
            }
            // CNI ADD runs while the shim sets the reaper up in the pinned netns: a pod costs the longer
            // of the two, not their sum. Both end before anything is undone.
            var attaching = Traced("cni.add", () => network.SetUpAsync(plan.Network, NetnsPin(sandbox), ct));
            var creating = runtime.CreateAsync(sandbox.Shim, ct);
            await Task.WhenAll(creating, attaching);
            var attached = await attaching;
            sandbox.AttachNetwork(attached);
            // The hostname now maps to the pod's own addresses (no container has mounted the file yet).
            File.WriteAllText(sandbox.Files.HostsPath,
                SandboxSpecBuilder.HostsFile(sandbox.Config, sandbox.Config.Hostname, [attached.Ip, .. attached.AdditionalIps]));
            state = await creating;
        }
        using (Telemetry.Source.StartActivity("cgroup.adopt"))
        {
            await cgroups.AdoptAsync(plan.ReaperCgroup, state.Pid, plan.Spec.Linux?.Resources, ct);
        }
        sandbox.MarkReady(state.Pid);
        Watch(sandbox);
    }

    /// <summary>Runs <paramref name="work"/> under a span of its own, which ends when the work does (it runs beside the shim's create).</summary>
    private static async Task<T> Traced<T>(string name, Func<Task<T>> work)
    {
        using var span = Telemetry.Source.StartActivity(name);
        return await work();
    }

    private static string NetnsPin(Sandbox sandbox) => NamespacePins.PathOf(sandbox.Files.NamespaceDir, LinuxNamespaceType.Network);

    /// <summary>Keeps a long-poll Wait open on the sandbox's shim: the reaper's exit, or the shim's death, makes the sandbox not ready at once.</summary>
    private void Watch(Sandbox sandbox) => _ = Task.Run(async () =>
    {
        ProcessState? exit;
        try
        {
            exit = await runtime.WaitAsync(sandbox.Shim, CancellationToken.None);
        }
        catch (BerthException error)
        {
            logger.LogWarning("Pod sandbox {Id}: waiting for its reaper failed: {Error}", sandbox.Id, error.Message);
            exit = null;
        }
        if (sandbox.MarkNotReady(exit is null ? "its shim is gone" : $"its reaper process exited (exit code {exit.ExitCode})"))
        {
            logger.LogWarning("Pod sandbox {Id} is not ready: {Reason}", sandbox.Id, sandbox.NotReadyReason);
        }
        sandbox.ReaperStopped();
    });

    /// <summary>
    /// Takes the pod off its network (CNI DEL), then stops the reaper and releases the pod's namespaces,
    /// /dev/shm and reaper cgroup; the sandbox is not ready from now on, for <paramref name="reason"/>.
    /// Creates under way finish first and later ones are refused. The pod's containers must already be
    /// stopped (<see cref="PodLifecycle"/>). Idempotent. A DEL that fails throws the plugin's message and
    /// leaves the netns in place, as containerd does, so that kubelet's retry can still clean up inside it.
    /// </summary>
    public Task StopAsync(Sandbox sandbox, string reason) => StopAsync(sandbox, reason, networkFailureStopsTeardown: true);

    /// <param name="networkFailureStopsTeardown">
    /// False when a run failed: the pod is released all the same, and an attachment whose DEL failed stays
    /// recorded, so GC at the next start deletes it (containerd ignores that failure and forgets it).
    /// </param>
    private async Task StopAsync(Sandbox sandbox, string reason, bool networkFailureStopsTeardown)
    {
        await sandbox.CloseAsync(reason);
        await sandbox.Lock.WaitAsync();
        try
        {
            try
            {
                await network.TearDownAsync(sandbox.Id, NetnsPin(sandbox), CancellationToken.None);
            }
            catch (BerthException error) when (!networkFailureStopsTeardown)
            {
                logger.LogWarning("Pod sandbox {Id}: CNI DEL failed, the attachment is kept for GC at the next start: {Error}", sandbox.Id, error.Message);
            }
            await runtime.ShutdownAsync(sandbox.Shim, CancellationToken.None);
            sandbox.ReaperStopped();
            // The shim unpins what it pinned; a shim that was killed could not.
            foreach (string pin in Directory.Exists(sandbox.Files.NamespaceDir) ? Directory.EnumerateFiles(sandbox.Files.NamespaceDir) : [])
            {
                node.UnmountAll(pin);
                File.Delete(pin);
            }
            await cgroups.ReleaseAsync(sandbox.ReaperCgroup);
            await node.KillCgroupAsync(sandbox.ReaperCgroup);
            node.UnmountAll(sandbox.Files.ShmPath);
        }
        finally
        {
            sandbox.Lock.Release();
        }
    }

    /// <summary>
    /// Removes every trace of a stopped sandbox whose containers are removed: bundle, pins directory,
    /// record, and the cgroup levels berth made for it once no other pod lives below them. Idempotent.
    /// </summary>
    public async Task RemoveAsync(Sandbox sandbox)
    {
        await sandbox.Lock.WaitAsync();
        try
        {
            DeleteDirectory(sandbox.Shim.Bundle);
            DeleteDirectory(sandbox.Files.NamespaceDir);
            store.RemoveSandbox(sandbox.Id);
            sandbox.Removed();
            registry.Remove(sandbox);
        }
        finally
        {
            sandbox.Lock.Release();
        }
        await PruneCgroupLevelsAsync();
        logger.LogInformation("Pod sandbox {Id} removed", sandbox.Id);
    }

    /// <summary>
    /// Removes the cgroup levels berth made that no pod lives below any more, deepest first. Only
    /// empty cgroups go (rmdir, never a kill): a level that still holds another pod's cgroups, or one
    /// berth did not make, is left alone.
    /// </summary>
    public async Task PruneCgroupLevelsAsync()
    {
        await _cgroupLevels.WaitAsync();
        try
        {
            var inUse = registry.Sandboxes.Select(sandbox => sandbox.PodCgroup).ToList();
            foreach (string level in store.CreatedCgroups().OrderByDescending(level => level.Length))
            {
                if (!inUse.Any(podCgroup => CgroupPaths.IsAtOrBelow(podCgroup, level)) && await cgroups.TryRemoveLevelAsync(level))
                {
                    store.RemoveCreatedCgroup(level);
                }
            }
        }
        finally
        {
            _cgroupLevels.Release();
        }
    }

    /// <summary>
    /// After a daemon restart: ready while its shim answers, its reaper runs and its network attachment is
    /// whole (a finished ADD that passes CHECK), watched again; else not ready, with the reason. A sandbox
    /// whose ADD never finished (the daemon died during RunPodSandbox) is not ready; its DEL runs at stop.
    /// </summary>
    public async Task<Sandbox> RecoverAsync(SandboxRecord record)
    {
        var sandbox = new Sandbox(record, Cri.PodSandboxConfig.Parser.ParseFrom(record.Config), paths, events);
        registry.Add(sandbox);
        if (!sandbox.HostNetwork && network.Recover(sandbox.Id) is { } attached)
        {
            sandbox.AttachNetwork(attached);
        }
        var state = await runtime.TryGetStateAsync(sandbox.Shim, CancellationToken.None);
        string? problem = state switch
        {
            null => "its shim is gone",
            { Status: not ProcessStatus.Running } => $"its reaper process exited (exit code {state.ExitCode})",
            _ when sandbox.HostNetwork => null,
            _ when sandbox.Network is null => "its network was never set up (berthd stopped during RunPodSandbox)",
            _ => await network.CheckAsync(sandbox.Id, NetnsPin(sandbox), CancellationToken.None) is { } failed ? $"its network failed CHECK: {failed}" : null,
        };
        if (problem is null)
        {
            sandbox.MarkReady(state!.Pid);
            Watch(sandbox);
        }
        else
        {
            sandbox.MarkNotReady(problem);
        }
        return sandbox;
    }

    private static void DeleteDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}
