using Berth.Core.Errors;
using Berth.RuntimeService.Events;
using Berth.RuntimeService.Network;
using Berth.RuntimeService.Runtime;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.State;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Pods;

/// <summary>
/// A pod sandbox as berthd knows it: its record and config, its shim, and its readiness. Readiness
/// only moves forward (a sandbox that is not ready never becomes ready again: kubelet makes a new
/// one), and the first reason given is kept. CreateContainer holds a lease on the sandbox, so stop
/// and remove first close it to new creates, then wait for the creates under way. Its container events
/// (container_id = the sandbox's ID) are published here: CREATED and STARTED when it becomes ready,
/// STOPPED when its reaper is gone, DELETED when it is removed; each once, in that order.
/// </summary>
public sealed class Sandbox
{
    private readonly object _gate = new();
    // Held while a change is applied and its events published, so they reach subscribers in order.
    private readonly object _announce = new();
    private readonly ContainerEvents _events;
    private Announced _announced;
    private int _creates;
    private TaskCompletionSource? _drained;
    private bool _closed;
    private SandboxPhase _phase = SandboxPhase.SettingUp;
    private string _notReadyReason = "";

    public Sandbox(SandboxRecord record, Cri.PodSandboxConfig config, RuntimePaths paths, ContainerEvents events)
    {
        _events = events;
        Record = record;
        Config = config;
        Files = paths.SandboxFiles(record.Id);
        Shim = new ShimTarget(record.Id, paths.SandboxBundle(record.Id), paths.ShimSocket(record.Id));
        ReaperCgroup = CgroupPaths.Sandbox(record.CgroupPath, record.Id);
    }

    public SandboxRecord Record { get; }

    public Cri.PodSandboxConfig Config { get; }

    public string Id => Record.Id;

    public ShimTarget Shim { get; }

    /// <summary>The pod files its containers share, and where its namespaces are pinned.</summary>
    public SandboxFiles Files { get; }

    /// <summary>The pod's network namespace, pinned by its shim; null when the pod uses the host's network.</summary>
    public string? NetworkNamespace =>
        Config.Linux?.SecurityContext?.NamespaceOptions?.Network == Cri.NamespaceMode.Node
            ? null
            : Api.Shim.NamespacePins.PathOf(Files.NamespaceDir, Api.Shim.LinuxNamespaceType.Network);

    /// <summary>The pod's cgroup (cgroupfs path).</summary>
    public string PodCgroup => Record.CgroupPath;

    /// <summary>The reaper's cgroup, a child of <see cref="PodCgroup"/>.</summary>
    public string ReaperCgroup { get; }

    /// <summary>The reaper's pid in the host's pid namespace; 0 before it runs.</summary>
    public int ReaperPid { get; private set; }

    /// <summary>The pod's IPs on the CNI network; null on the host's network, and until its network is set up.</summary>
    public PodNetworkStatus? Network { get; private set; }

    /// <summary>Whether the pod uses the node's network namespace (and so no CNI network).</summary>
    public bool HostNetwork => Config.Linux?.SecurityContext?.NamespaceOptions?.Network == Cri.NamespaceMode.Node;

    /// <summary>Records the pod's place on the network, once its ADD finished (at run, or read back at recovery).</summary>
    public void AttachNetwork(PodNetworkStatus network) => Network = network;

    /// <summary>Serialises stop and remove of this sandbox.</summary>
    public SemaphoreSlim Lock { get; } = new(1, 1);

    public bool Ready
    {
        get
        {
            lock (_gate)
            {
                return _phase == SandboxPhase.Ready;
            }
        }
    }

    /// <summary>Why the sandbox is not ready, in words that follow "is not ready: "; null when it is.</summary>
    public string? NotReadyReason
    {
        get
        {
            lock (_gate)
            {
                return Reason();
            }
        }
    }

    public Cri.PodSandboxState CriState => Ready ? Cri.PodSandboxState.SandboxReady : Cri.PodSandboxState.SandboxNotready;

    /// <summary>Its reaper runs: the sandbox is ready, unless something already made it not ready (a sandbox never comes back).</summary>
    public void MarkReady(int reaperPid)
    {
        lock (_announce)
        {
            lock (_gate)
            {
                ReaperPid = reaperPid;
                if (_phase != SandboxPhase.SettingUp)
                {
                    return;
                }
                _phase = SandboxPhase.Ready;
            }
            Announce(Announced.Started, Cri.ContainerEventType.ContainerCreatedEvent, Cri.ContainerEventType.ContainerStartedEvent);
        }
    }

    /// <summary>Its reaper has exited or its shim is gone (at stop, or on its own): CONTAINER_STOPPED_EVENT, once, for a sandbox that started.</summary>
    public void ReaperStopped()
    {
        lock (_announce)
        {
            if (_announced == Announced.Started)
            {
                Announce(Announced.Stopped, Cri.ContainerEventType.ContainerStoppedEvent);
            }
        }
    }

    /// <summary>
    /// Its removal is complete but for leaving the registry: CONTAINER_DELETED_EVENT, once, for a sandbox that
    /// started (STOPPED first if nobody reported it), still carrying its status as containerd's does.
    /// </summary>
    public void Removed()
    {
        lock (_announce)
        {
            if (_announced == Announced.Started)
            {
                Announce(Announced.Stopped, Cri.ContainerEventType.ContainerStoppedEvent);
            }
            if (_announced == Announced.Stopped)
            {
                Announce(Announced.Deleted, Cri.ContainerEventType.ContainerDeletedEvent);
            }
        }
    }

    private void Announce(Announced reached, params ReadOnlySpan<Cri.ContainerEventType> types)
    {
        _announced = reached;
        foreach (var type in types)
        {
            _events.Publish(Id, Id, type);
        }
    }

    /// <summary>The sandbox is not ready from now on; the first reason stays. True when this call made it so.</summary>
    public bool MarkNotReady(string reason)
    {
        lock (_gate)
        {
            return BecomeNotReady(reason);
        }
    }

    /// <summary>
    /// Lets one CreateContainer go ahead in this sandbox until the lease is disposed. Throws
    /// FailedPrecondition, naming the reason, when the sandbox is not ready or is being stopped or removed.
    /// </summary>
    public IDisposable EnterCreate()
    {
        lock (_gate)
        {
            if (_closed || _phase != SandboxPhase.Ready)
            {
                throw BerthException.FailedPrecondition($"pod sandbox {Id} is not ready: {Reason() ?? "it is being stopped"}");
            }
            _creates++;
            return new CreateLease(this);
        }
    }

    /// <summary>Refuses new creates from now on (the sandbox becomes not ready for <paramref name="reason"/>) and waits for those under way.</summary>
    public Task CloseAsync(string reason)
    {
        lock (_gate)
        {
            _closed = true;
            BecomeNotReady(reason);
            if (_creates == 0)
            {
                return Task.CompletedTask;
            }
            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _drained.Task;
        }
    }

    private bool BecomeNotReady(string reason)
    {
        if (_phase == SandboxPhase.NotReady)
        {
            return false;
        }
        _phase = SandboxPhase.NotReady;
        _notReadyReason = reason;
        return true;
    }

    private string? Reason() => _phase switch
    {
        SandboxPhase.Ready => null,
        SandboxPhase.SettingUp => "it is being set up",
        _ => _notReadyReason,
    };

    private void LeaveCreate()
    {
        lock (_gate)
        {
            if (--_creates == 0)
            {
                _drained?.TrySetResult();
            }
        }
    }

    private sealed class CreateLease(Sandbox sandbox) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                sandbox.LeaveCreate();
            }
        }
    }

    /// <summary>The last of its container events published.</summary>
    private enum Announced
    {
        None,
        Started,
        Stopped,
        Deleted,
    }

    private enum SandboxPhase
    {
        SettingUp,
        Ready,
        NotReady,
    }
}
