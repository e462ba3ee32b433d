using Berth.RuntimeService.Runtime;
using Berth.RuntimeService.State;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Containers;

/// <summary>
/// A container as berthd knows it: its record and config, its shim, and the latest state its shim
/// reported. The shim owns the live process; <see cref="State"/> is a copy that changes only through
/// <see cref="Advance"/>, which takes it forward (Creating → Created → Running → Exited) and never back,
/// as containerd's container Status.Update refuses illegal transitions: the StartContainer reply and
/// the exit watcher may arrive in either order and the container still ends Exited.
/// </summary>
public sealed class Container(ContainerRecord record, Cri.ContainerConfig config, ShimTarget shim)
{
    private readonly object _gate = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ProcessState _state = ProcessState.Creating;
    private bool _removing;
    private Cri.LinuxContainerResources _resources = record.Resources is { } stored
        ? Cri.LinuxContainerResources.Parser.ParseFrom(stored)
        : config.Linux?.Resources ?? new Cri.LinuxContainerResources();

    public ContainerRecord Record { get; } = record;

    public Cri.ContainerConfig Config { get; } = config;

    public string Id => Record.Id;

    public ShimTarget Shim { get; } = shim;

    /// <summary>Serialises start, stop and remove of this container.</summary>
    public SemaphoreSlim Lock { get; } = new(1, 1);

    public ProcessState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <summary>Set once RemoveContainer has begun: the container is not started again.</summary>
    public bool Removing
    {
        get
        {
            lock (_gate)
            {
                return _removing;
            }
        }
    }

    /// <summary>Completes when the container's process has exited and its status is recorded.</summary>
    public Task Exited => _exited.Task;

    public Cri.ContainerState CriState => State.Status switch
    {
        ProcessStatus.Created => Cri.ContainerState.ContainerCreated,
        ProcessStatus.Running => Cri.ContainerState.ContainerRunning,
        ProcessStatus.Exited => Cri.ContainerState.ContainerExited,
        _ => Cri.ContainerState.ContainerUnknown,
    };

    /// <summary>
    /// Applies a reported state when it moves the container forward (see <see cref="Transitions.IsForward"/>);
    /// a stale report (RUNNING after EXITED) is ignored. True when the state changed. The identity of
    /// the process (<see cref="ProcessState.User"/>) is kept when a report lacks it, as the exit record
    /// read once the shim is gone does: kubelet shows it for exited containers too.
    /// </summary>
    public bool Advance(ProcessState reported)
    {
        lock (_gate)
        {
            if (!Transitions.IsForward(_state.Status, reported.Status))
            {
                return false;
            }
            _state = reported.User is null && _state.User is { } known ? reported with { User = known } : reported;
        }
        if (reported.Status == ProcessStatus.Exited)
        {
            _exited.TrySetResult();
        }
        return true;
    }

    /// <summary>
    /// The resources the container runs with, as ContainerStatus reports them: as created (what the spec
    /// holds), then as UpdateContainerResources last set them (see <see cref="Resize"/>). Rows from before
    /// they were recorded report kubelet's request as it came.
    /// </summary>
    public Cri.LinuxContainerResources Resources
    {
        get
        {
            lock (_gate)
            {
                return _resources;
            }
        }
    }

    /// <summary>Replaces <see cref="Resources"/> once an update has been applied.</summary>
    public void Resize(Cri.LinuxContainerResources resources)
    {
        lock (_gate)
        {
            _resources = resources;
        }
    }

    /// <summary>Marks the container as being removed; from now on it is not started.</summary>
    public void BeginRemoval()
    {
        lock (_gate)
        {
            _removing = true;
        }
    }

    /// <summary>The rules of a container's life, as pure functions.</summary>
    public static class Transitions
    {
        /// <summary>Only forward: a later status in Creating, Created, Running, Exited; Exited is final.</summary>
        public static bool IsForward(ProcessStatus from, ProcessStatus to) => to > from;
    }
}
