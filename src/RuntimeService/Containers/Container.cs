using Berth.Api.Shim;
using Berth.RuntimeService.State;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Containers;

/// <summary>
/// A container as berthd knows it: its record and config, and the latest state its shim reported.
/// The shim owns the live process; <see cref="State"/> is only a copy, refreshed by the shim's answers
/// and by a long-poll Wait that completes at exit, so listing never has to ask every shim.
/// </summary>
public sealed class Container(ContainerRecord record, Cri.ContainerConfig config, string bundle, string socketPath)
{
    public ContainerRecord Record { get; } = record;
    public Cri.ContainerConfig Config { get; } = config;
    public string Id => Record.Id;
    public string Bundle { get; } = bundle;
    public string SocketPath { get; } = socketPath;

    /// <summary>Serialises start, stop and remove of this container.</summary>
    public SemaphoreSlim Lock { get; } = new(1, 1);

    public ShimClient? Shim { get; set; }

    public StateResponse State { get; private set; } = new() { Id = record.Id, Status = Status.Initial, CreatedAt = record.CreatedAt };

    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the container's process has exited and its status is recorded.</summary>
    public Task Exited => _exited.Task;

    public void Update(StateResponse state)
    {
        State = state;
        if (state.Status == Status.Exited)
        {
            _exited.TrySetResult();
        }
    }

    public Cri.ContainerState CriState => State.Status switch
    {
        Status.Created => Cri.ContainerState.ContainerCreated,
        Status.Running => Cri.ContainerState.ContainerRunning,
        Status.Exited => Cri.ContainerState.ContainerExited,
        _ => Cri.ContainerState.ContainerUnknown,
    };
}
