using Berth.Api.Shim;
using Berth.Core;
using Berth.Core.Errors;
using Berth.RuntimeService.Configuration;
using Berth.RuntimeService.Events;
using Berth.RuntimeService.Cdi;
using Berth.RuntimeService.Node;
using Berth.RuntimeService.Pods;
using Berth.RuntimeService.Runtime;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.State;
using Google.Protobuf;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Containers;

/// <summary>
/// Creates, starts, stops and removes containers, each owned by its own shim through
/// <see cref="IShimRuntime"/>. Create leaves the process set up and waiting (as runc create does);
/// Start lets it exec. A watcher per container learns its exit the moment it happens.
/// </summary>
public sealed class ContainerManager(
    PodStore store, RuntimeRegistry registry, RuntimePaths paths, IShimRuntime runtime, INodeOperations node,
    ICgroupDriver cgroups, IContainerImages images, BlockIoDefaults blockIo, NodeSecurity security, StreamingConfig streaming,
    ContainerEvents events, CdiRegistry cdi,
    ILogger<ContainerManager> logger)
{
    /// <summary>How long a container may take to exit after SIGKILL before StopContainer gives up.</summary>
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(10);

    /// <summary>Output kept per stream of an ExecSync; kubelet's probes read at most a few KiB of it.</summary>
    private const int ExecOutputLimit = 16 << 20;

    /// <summary>
    /// Creates a container in a ready sandbox. The plan is made and checked first, then the name is
    /// reserved, then the node is prepared; a failure after the reservation removes what was made.
    /// Throws NotFound (sandbox, image, target), FailedPrecondition (sandbox not ready, setup failed),
    /// InvalidArgument (the request cannot run), AlreadyExists (the name is reserved).
    /// </summary>
    public async Task<Container> CreateAsync(string sandboxId, Cri.ContainerConfig config, CancellationToken daemonStopping)
    {
        var sandbox = registry.RequireSandbox(sandboxId);
        using var lease = sandbox.EnterCreate();
        string imageName = config.Image?.Image ?? "";
        if (imageName.Length == 0)
        {
            throw BerthException.InvalidArgument("container config needs an image");
        }
        ImageForContainer image;
        using (Telemetry.Source.StartActivity("container.image"))
        {
            image = images.Find(imageName) ?? throw BerthException.NotFound($"image {imageName} is not present; pull it first");
        }
        string id = Identifiers.New();
        ContainerPlan plan;
        using (Telemetry.Source.StartActivity("container.plan"))
        {
            plan = ContainerPlanner.Plan(new ContainerPlanInput(
                config, new PodContext(sandbox.Id, sandbox.Config, sandbox.PodCgroup), image.Image, id, paths, blockIo,
                node.LookUpDevice, security, cdi.Resolve, TargetPidNamespace(config), node.HostDevices, streaming.MaxExecsPerContainer));
        }
        var record = new ContainerRecord(id, sandbox.Id, plan.Name, config.ToByteArray(), image.Id, imageName,
            Identifiers.NowNanoseconds(), plan.LogPath, image.ImageRef,
            StopSignals.FromCri(config.StopSignal) ?? StopSignals.Parse(image.Image.Config.StopSignal) ?? StopSignals.Default,
            plan.CgroupPath, ContainerResources.ToCri(plan.Spec.Linux?.Resources, plan.Spec.Process?.OomScoreAdj).ToByteArray());
        if (store.TryAdd(record) is { } existing)
        {
            throw BerthException.AlreadyExists($"container name {record.Name} is reserved for {existing}");
        }
        var container = new Container(record, config, new ShimTarget(id, plan.Bundle, plan.SocketPath), events);
        registry.Add(container);
        try
        {
            using (Telemetry.Source.StartActivity("state.image_hold"))
            {
                images.Hold(id, image.DiffIds);
            }
            await SetUpAsync(container, plan, daemonStopping);
        }
        catch (Exception error)
        {
            try
            {
                await RemoveAsync(container);
            }
            catch (Exception cleanup)
            {
                logger.LogError(cleanup, "Container {Id}: removing what a failed create left failed", id);
            }
            if (error is BerthException { Kind: ErrorKind.FailedPrecondition } failed)
            {
                throw BerthException.FailedPrecondition($"container {id} could not be created: {failed.Message}", failed);
            }
            throw;
        }
        logger.LogInformation("Container {Id} ({Name}) created", id, record.Name);
        return container;
    }

    private async Task SetUpAsync(Container container, ContainerPlan plan, CancellationToken ct)
    {
        using (Telemetry.Source.StartActivity("container.bundle"))
        {
            foreach (string hostPath in plan.HostPaths)
            {
                node.EnsureHostPath(hostPath);
            }
            foreach (PropagatedSource source in plan.PropagatedSources)
            {
                var (resolved, mount) = node.FindSourceMount(source.HostPath);
                source.Require(resolved, mount);
            }
            if (plan.Spec.Process?.ApparmorProfile == SecurityProfiles.AppArmorDefaultName)
            {
                node.EnsureAppArmorDefaultProfile();
            }
            Directory.CreateDirectory(plan.Options.Rootfs!.UpperDir);
            Directory.CreateDirectory(plan.Options.Rootfs.WorkDir);
            Directory.CreateDirectory(plan.Spec.Root!.Path);
            OciJson.WriteSpec(BundleLayout.ConfigPath(plan.Bundle), plan.Spec);
            ShimJson.WriteOptions(BundleLayout.OptionsPath(plan.Bundle), plan.Options with { CgroupMounts = node.CgroupMounts });
        }
        var state = await runtime.CreateAsync(container.Shim, ct);
        using (Telemetry.Source.StartActivity("cgroup.adopt"))
        {
            await cgroups.AdoptAsync(plan.CgroupPath, state.Pid, plan.Spec.Linux?.Resources, ct);
        }
        container.Advance(state);
        Watch(container);
    }

    /// <summary>TARGET pid mode: the target container's pid namespace, through its pid.</summary>
    private string? TargetPidNamespace(Cri.ContainerConfig config)
    {
        var options = config.Linux?.SecurityContext?.NamespaceOptions;
        if (options?.Pid != Cri.NamespaceMode.Target)
        {
            return null;
        }
        if (options.TargetId.Length == 0)
        {
            throw BerthException.InvalidArgument("linux.security_context.namespace_options.target_id is required when pid is TARGET");
        }
        var target = registry.FindContainer(options.TargetId)
            ?? throw BerthException.NotFound($"target container {options.TargetId} of the pid namespace not found");
        return target.State.Status is ProcessStatus.Running or ProcessStatus.Created
            ? $"/proc/{target.State.Pid}/ns/pid"
            : throw BerthException.FailedPrecondition($"target container {target.Id} of the pid namespace is {CriNames.Of(target.CriState)}, not running");
    }

    /// <summary>Keeps a long-poll Wait open on the shim so the exit is known the moment it happens.</summary>
    private void Watch(Container container) => _ = Task.Run(async () =>
    {
        ProcessState? exit;
        try
        {
            exit = await runtime.WaitAsync(container.Shim, CancellationToken.None);
        }
        catch (BerthException error)
        {
            logger.LogWarning("Container {Id}: waiting for its exit failed: {Error}", container.Id, error.Message);
            exit = null;
        }
        if (exit is not null)
        {
            container.Advance(exit);
        }
        else
        {
            await MarkGoneAsync(container);
        }
    });

    /// <summary>
    /// The shim is gone without a word: the container is reported with the exit the shim recorded, or
    /// as lost; and whatever of it still runs in its cgroup is killed, as containerd kills a dead
    /// shim's task, so kubelet never starts a replacement beside it.
    /// </summary>
    private async Task MarkGoneAsync(Container container)
    {
        container.Advance(runtime.RecordedExit(container.Shim) ?? container.State.Lost(Identifiers.NowNanoseconds(),
            "the container's shim is gone (it was killed, or the node restarted); its real exit status is unknown"));
        await node.KillCgroupAsync(container.Record.CgroupPath);
    }

    /// <summary>Lets a created container exec its command. FailedPrecondition unless it is created and not being removed.</summary>
    public async Task StartAsync(Container container, CancellationToken ct)
    {
        await container.Lock.WaitAsync(ct);
        try
        {
            if (container.Removing || container.State.Status != ProcessStatus.Created)
            {
                throw BerthException.FailedPrecondition($"container {container.Id} is {(container.Removing ? "being removed" : CriNames.Of(container.CriState))}, not CONTAINER_CREATED");
            }
            container.Advance(await runtime.StartAsync(container.Shim, ct));
        }
        finally
        {
            container.Lock.Release();
        }
    }

    /// <summary>
    /// The container's stop signal, then SIGKILL to all its processes after <paramref name="grace"/>
    /// (<see cref="Timeout.InfiniteTimeSpan"/>: no SIGKILL until the container exits). The grace period
    /// runs outside the container's lock, so a later StopContainer with a shorter one, or RemoveContainer,
    /// kills sooner. Idempotent. Throws DeadlineExceeded when the container outlives SIGKILL.
    /// </summary>
    public async Task StopAsync(Container container, TimeSpan grace, CancellationToken cancellationToken = default)
    {
        if (grace != TimeSpan.Zero && await SignalAsync(container, container.Record.StopSignal, all: false))
        {
            await Task.WhenAny(container.Exited, Task.Delay(grace, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
        if (await SignalAsync(container, StopSignals.Kill, all: true)
            && await Task.WhenAny(container.Exited, Task.Delay(KillWait)) != container.Exited)
        {
            throw BerthException.DeadlineExceeded($"container {container.Id} did not exit within {KillWait.TotalSeconds:0} s of SIGKILL");
        }
    }

    /// <summary>Signals a container that may still run; false when it has exited or never ran (then nothing is sent).</summary>
    private async Task<bool> SignalAsync(Container container, int signal, bool all)
    {
        await container.Lock.WaitAsync();
        try
        {
            // Creating: its create never finished, so no process of it runs.
            if (container.State.Status is ProcessStatus.Exited or ProcessStatus.Creating)
            {
                return false;
            }
            await runtime.SignalAsync(container.Shim, signal, all, CancellationToken.None);
            return true;
        }
        catch (BerthException error) when (error.Kind == ErrorKind.Unavailable)
        {
            await MarkGoneAsync(container);
            return false;
        }
        finally
        {
            container.Lock.Release();
        }
    }

    /// <summary>Kills what still runs and removes every trace: shim and its socket, cgroup, bundle, writable layer, record. Idempotent.</summary>
    public async Task RemoveAsync(Container container)
    {
        container.BeginRemoval();
        await StopAsync(container, TimeSpan.Zero);
        await container.Lock.WaitAsync();
        try
        {
            await runtime.ShutdownAsync(container.Shim, CancellationToken.None);
            await cgroups.ReleaseAsync(container.Record.CgroupPath);
            await node.KillCgroupAsync(container.Record.CgroupPath);
            DeleteDirectory(container.Shim.Bundle);
            DeleteDirectory(paths.ContainerLayer(container.Id));
            store.RemoveContainer(container.Id);
            registry.Remove(container);
            container.Removed();
        }
        finally
        {
            container.Lock.Release();
        }
        await images.ReleaseAsync(container.Id);
        logger.LogInformation("Container {Id} removed", container.Id);
    }

    /// <summary>How a refused exec (ExecSync, or Exec and its session) names what it could not do (<see cref="Container.RequireRunning"/>).</summary>
    public const string ExecVerb = "run a command in";

    /// <summary>How a refused attach names what it could not do.</summary>
    public const string AttachVerb = "attach to";

    /// <summary>Runs a command in a running container. DeadlineExceeded when it outlives its timeout (it is killed), as kubelet's exec probes expect.</summary>
    public async Task<ExecSyncResult> ExecSyncAsync(Container container, IReadOnlyList<string> command, long timeoutSeconds, CancellationToken ct)
    {
        container.RequireRunning(ExecVerb);
        var result = await runtime.ExecSyncAsync(container.Shim,
            new ExecSyncCommand(command, ExecTimeout(timeoutSeconds), ExecOutputLimit), ct);
        return result.TimedOut
            ? throw BerthException.DeadlineExceeded($"command {string.Join(' ', command)} timed out after {timeoutSeconds} s and was killed")
            : result;
    }

    /// <summary>ExecSync's timeout: none for zero, or for one too long for a timer.</summary>
    private static TimeSpan? ExecTimeout(long seconds) =>
        CriDurations.FromSeconds(seconds) is var timeout && timeout > TimeSpan.Zero ? timeout : null;

    /// <summary>Starts a command for a streaming exec session (CRI Exec, through its URL). FailedPrecondition unless the container runs.</summary>
    public Task<ExecProcess> ExecAsync(Container container, ExecCommand command, CancellationToken ct)
    {
        container.RequireRunning(ExecVerb);
        return runtime.ExecAsync(container.Shim, command, ct);
    }

    /// <summary>Attaches to the container's own stdio (CRI Attach, through its URL). FailedPrecondition unless it runs.</summary>
    public Task<Attachment> AttachAsync(Container container, AttachStreams streams, CancellationToken ct)
    {
        container.RequireRunning(AttachVerb);
        return runtime.AttachAsync(container.Shim, streams, ct);
    }

    /// <summary>
    /// kubelet's new CPU and memory settings for a created or running container; devices and block I/O
    /// stay as created. What is set is recorded for ContainerStatus. A refusal changes nothing.
    /// </summary>
    public async Task UpdateResourcesAsync(Container container, Cri.LinuxContainerResources? linux, CancellationToken ct)
    {
        if (container.State.Status is not (ProcessStatus.Created or ProcessStatus.Running))
        {
            throw BerthException.FailedPrecondition($"container {container.Id} is {CriNames.Of(container.CriState)}; only a created or running container can be updated");
        }
        var resources = ContainerResources.For(linux, [], null) with { Devices = null };
        // The shim first: it checks the whole request before it writes, so a refusal leaves the cgroup
        // as it was; the driver (systemd) then records what the kernel took.
        await runtime.UpdateResourcesAsync(container.Shim, resources, ct);
        await cgroups.UpdateAsync(container.Record.CgroupPath, resources, ct);
        var merged = ContainerResources.Merge(container.Resources, ContainerResources.ToCri(resources, null));
        store.SetContainerResources(container.Id, merged.ToByteArray());
        container.Resize(merged);
    }

    /// <summary>kubelet renamed the log file to rotate it: the shim opens a new one at the same path.</summary>
    public async Task ReopenLogAsync(Container container, CancellationToken ct)
    {
        container.RequireRunning("reopen the log of");
        await runtime.ReopenLogAsync(container.Shim, ct);
    }

    /// <summary>After a daemon restart: ask the shim, or read what it left, or report the container lost.</summary>
    public async Task RecoverAsync(ContainerRecord record)
    {
        var container = new Container(record, Cri.ContainerConfig.Parser.ParseFrom(record.Config),
            new ShimTarget(record.Id, paths.ContainerBundle(record.Id), paths.ShimSocket(record.Id)), events);
        registry.Add(container);
        if (await runtime.TryGetStateAsync(container.Shim, CancellationToken.None) is { } state)
        {
            container.Advance(state);
            if (state.Status != ProcessStatus.Exited)
            {
                Watch(container);
            }
            return;
        }
        await MarkGoneAsync(container);
    }

    private static void DeleteDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}
