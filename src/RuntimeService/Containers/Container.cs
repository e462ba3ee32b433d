using Berth.Core.Errors;
using Berth.RuntimeService.Events;
using Berth.RuntimeService.Runtime;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.State;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Containers;

/// <summary>
/// A container as berthd knows it: its record and config, its shim, and the latest state its shim
/// reported. The shim owns the live process; <see cref="State"/> is a copy that changes only through
/// <see cref="Advance"/>, which takes it forward (Creating → Created → Running → Exited) and never back,
/// as containerd's container Status.Update refuses illegal transitions: the StartContainer reply and
/// the exit watcher may arrive in either order and the container still ends Exited. Each step forward,
/// and the removal, publishes its container events (<see cref="ContainerEvents"/>) from here, so no path
/// that changes the state can miss one.
/// </summary>
public sealed class Container(ContainerRecord record, Cri.ContainerConfig config, ShimTarget shim, ContainerEvents events)
{
    private readonly object _gate = new();
    // Held while a change is applied and its events published: two changes of one container reach subscribers in their order.
    private readonly object _announce = new();
    private bool _deleted;
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
    /// The one refusal of work that needs the process running (exec, attach, ExecSync, reopen the log):
    /// FailedPrecondition "cannot WHAT container ID: it is CONTAINER_EXITED, not running", the state in
    /// the CRI's own spelling, as crictl prints it.
    /// </summary>
    /// <param name="what">The verb phrase, e.g. "run a command in".</param>
    /// <exception cref="BerthException">FailedPrecondition unless the process runs.</exception>
    public void RequireRunning(string what)
    {
        if (State.Status != ProcessStatus.Running)
        {
            throw BerthException.FailedPrecondition($"cannot {what} container {Id}: it is {CriNames.Of(CriState)}, not running");
        }
    }

    /// <summary>
    /// Applies a reported state when it moves the container forward (see <see cref="Transitions.IsForward"/>);
    /// a stale report (RUNNING after EXITED) is ignored. True when the state changed. The identity of
    /// the process (<see cref="ProcessState.User"/>) is kept when a report lacks it, as the exit record
    /// read once the shim is gone does: kubelet shows it for exited containers too.
    /// </summary>
    public bool Advance(ProcessState reported)
    {
        lock (_announce)
        {
            ProcessStatus from;
            lock (_gate)
            {
                from = _state.Status;
                if (!Transitions.IsForward(from, reported.Status))
                {
                    return false;
                }
                _state = reported.User is null && _state.User is { } known ? reported with { User = known } : reported;
            }
            foreach (var type in Transitions.EventsOf(from, reported))
            {
                events.Publish(Id, Record.SandboxId, type);
            }
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

    /// <summary>Its removal is complete (it is out of the registry): CONTAINER_DELETED_EVENT, for a container that was ever created.</summary>
    public void Removed()
    {
        lock (_announce)
        {
            if (State.Status != ProcessStatus.Creating && !_deleted)
            {
                _deleted = true;
                events.Publish(Id, Record.SandboxId, Cri.ContainerEventType.ContainerDeletedEvent);
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

        /// <summary>
        /// The container events of a step forward, in order: one for each stage it crosses. A jump from
        /// Created to Exited (the process ended before StartContainer's reply was applied) still reports
        /// STARTED when the process ran (<see cref="ProcessState.StartedAt"/> set), so a subscriber sees
        /// CREATED, STARTED, STOPPED as containerd sends them.
        /// </summary>
        public static IEnumerable<Cri.ContainerEventType> EventsOf(ProcessStatus from, ProcessState to)
        {
            if (from < ProcessStatus.Created && to.Status >= ProcessStatus.Created)
            {
                yield return Cri.ContainerEventType.ContainerCreatedEvent;
            }
            if (from < ProcessStatus.Running && (to.Status == ProcessStatus.Running || (to.Status == ProcessStatus.Exited && to.StartedAt != 0)))
            {
                yield return Cri.ContainerEventType.ContainerStartedEvent;
            }
            if (from < ProcessStatus.Exited && to.Status == ProcessStatus.Exited)
            {
                yield return Cri.ContainerEventType.ContainerStoppedEvent;
            }
        }
    }
}
