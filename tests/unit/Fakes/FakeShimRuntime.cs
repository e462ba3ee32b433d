using System.Collections.Concurrent;
using Berth.Api.Shim;
using Berth.Core.Errors;
using Berth.RuntimeService.Runtime;

namespace Berth.Tests.Unit.Fakes;

/// <summary>
/// An <see cref="IShimRuntime"/> of pretend shims: each target has a process that moves through
/// created, running and exited as the calls and the test say, so the managers' logic runs without
/// root. Tests kill processes and shims, inject failures and hold calls open.
/// </summary>
internal sealed class FakeShimRuntime(FakeNodeOperations node) : IShimRuntime
{
    private readonly ConcurrentDictionary<string, FakeShim> _shims = new(StringComparer.Ordinal);
    private int _nextPid = 1000;

    /// <summary>Thrown by the next CreateAsync, when set.</summary>
    public Exception? CreateFailure { get; set; }

    /// <summary>Awaited by every CreateAsync before it answers, when set (to hold creates open).</summary>
    public Task? CreateGate { get; set; }

    /// <summary>Awaited by StartAsync after the process started and before the reply returns (to let the exit overtake it).</summary>
    public Func<ShimTarget, Task>? BeforeStartReply { get; set; }

    /// <summary>Thrown by the next streaming ExecAsync, when set (a shim refusing the command).</summary>
    public Exception? ExecFailure { get; set; }

    /// <summary>The answer of the next ExecSyncAsync.</summary>
    public ExecSyncResult ExecResult { get; set; } = new(0, "out"u8.ToArray(), default, false);

    public IReadOnlyCollection<FakeShim> Shims => _shims.Values.ToList();

    public FakeShim this[string id] => _shims[id];

    public bool HasShim(string id) => _shims.TryGetValue(id, out var shim) && shim.Alive;

    public async Task<ProcessState> CreateAsync(ShimTarget target, CancellationToken cancellationToken)
    {
        if (CreateGate is { } gate)
        {
            await gate;
        }
        if (CreateFailure is { } failure)
        {
            CreateFailure = null;
            throw failure;
        }
        var shim = new FakeShim(target, Interlocked.Increment(ref _nextPid));
        _shims[target.Id] = shim;
        // As the shim does: the cgroup config.json names, made level by level.
        if (OciJson.ParseSpec(File.ReadAllBytes(BundleLayout.ConfigPath(target.Bundle))).Linux?.CgroupsPath is { Length: > 0 } cgroup)
        {
            node.MakeCgroup(cgroup);
            shim.Cgroup = cgroup;
        }
        // A sandbox's reaper runs from its create on.
        if (ShimJson.ParseOptions(File.ReadAllBytes(BundleLayout.OptionsPath(target.Bundle))).Kind == ShimKind.Sandbox)
        {
            shim.Start();
        }
        Directory.CreateDirectory(Path.GetDirectoryName(target.SocketPath)!);
        File.WriteAllText(target.SocketPath, "");
        return shim.State;
    }

    public async Task<ProcessState> StartAsync(ShimTarget target, CancellationToken cancellationToken)
    {
        var shim = Live(target);
        var started = shim.Start();
        if (BeforeStartReply is { } hook)
        {
            await hook(target);
        }
        return started;
    }

    public Task<ProcessState?> TryGetStateAsync(ShimTarget target, CancellationToken cancellationToken) =>
        Task.FromResult(_shims.TryGetValue(target.Id, out var shim) && shim.Alive ? shim.State : null);

    public async Task<ProcessState?> WaitAsync(ShimTarget target, CancellationToken cancellationToken)
    {
        if (!_shims.TryGetValue(target.Id, out var shim) || !shim.Alive)
        {
            return null;
        }
        return await shim.Ended;
    }

    public Task SignalAsync(ShimTarget target, int signal, bool all, CancellationToken cancellationToken)
    {
        Live(target).Exit(128 + signal, "Error");
        return Task.CompletedTask;
    }

    public Task<ExecSyncResult> ExecSyncAsync(ShimTarget target, ExecSyncCommand command, CancellationToken cancellationToken)
    {
        Live(target);
        return Task.FromResult(ExecResult);
    }

    /// <summary>Every streaming exec started, in order.</summary>
    public ConcurrentQueue<FakeStdio> Execs { get; } = new();

    /// <summary>Every attachment made, in order.</summary>
    public ConcurrentQueue<FakeStdio> Attachments { get; } = new();

    public Task<ExecProcess> ExecAsync(ShimTarget target, ExecCommand command, CancellationToken cancellationToken)
    {
        Live(target);
        if (ExecFailure is { } failure)
        {
            ExecFailure = null;
            return Task.FromException<ExecProcess>(failure);
        }
        var process = new FakeStdio(command.Tty, command.Stdin || command.Tty, command.Stdout || command.Tty, command.Stderr && !command.Tty, stdinOnce: false);
        Execs.Enqueue(process);
        return Task.FromResult<ExecProcess>(process.AsExec());
    }

    public Task<Attachment> AttachAsync(ShimTarget target, AttachStreams streams, CancellationToken cancellationToken)
    {
        Live(target);
        var attachment = new FakeStdio(tty: false, streams.Stdin, streams.Stdout, streams.Stderr, stdinOnce: true);
        Attachments.Enqueue(attachment);
        return Task.FromResult<Attachment>(attachment.AsAttachment());
    }

    public Task FreezeAsync(ShimTarget target, bool frozen, CancellationToken cancellationToken)
    {
        Live(target).Frozen = frozen;
        return Task.CompletedTask;
    }

    public Task UpdateResourcesAsync(ShimTarget target, LinuxResources resources, CancellationToken cancellationToken)
    {
        Live(target).Resources = resources;
        return Task.CompletedTask;
    }

    public Task ReopenLogAsync(ShimTarget target, CancellationToken cancellationToken)
    {
        Live(target).LogReopened++;
        return Task.CompletedTask;
    }

    public Task ShutdownAsync(ShimTarget target, CancellationToken cancellationToken)
    {
        if (_shims.TryGetValue(target.Id, out var shim) && shim.Alive)
        {
            shim.Exit(137, "Error");
            shim.Die();
            if (shim.Cgroup is { } cgroup)
            {
                node.TryRemoveEmptyCgroup(cgroup);
            }
        }
        ShutdownCalls.Add(target.Id);
        if (File.Exists(target.SocketPath))
        {
            File.Delete(target.SocketPath);
        }
        return Task.CompletedTask;
    }

    public ConcurrentBag<string> ShutdownCalls { get; } = [];

    public ProcessState? RecordedExit(ShimTarget target) =>
        _shims.TryGetValue(target.Id, out var shim) && shim.State.Status == ProcessStatus.Exited ? shim.State : null;

    private FakeShim Live(ShimTarget target) =>
        _shims.TryGetValue(target.Id, out var shim) && shim.Alive
            ? shim
            : throw BerthException.Unavailable($"the shim of {target.Id} is gone");
}

/// <summary>One pretend shim and its process.</summary>
internal sealed class FakeShim(ShimTarget target, int pid)
{
    private readonly TaskCompletionSource<ProcessState?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ShimTarget Target { get; } = target;

    public ProcessState State { get; private set; } = new(ProcessStatus.Created, pid);

    public bool Alive { get; private set; } = true;

    public LinuxResources? Resources { get; set; }

    /// <summary>Whether the last FreezeAsync froze the container (true) or thawed it.</summary>
    public bool Frozen { get; set; }

    /// <summary>The cgroup the shim made for its process, which it removes at shutdown.</summary>
    public string? Cgroup { get; set; }

    public int LogReopened { get; set; }

    /// <summary>What a waiter gets: the exit, or null when the shim died without one.</summary>
    public Task<ProcessState?> Ended => _ended.Task;

    public ProcessState Start()
    {
        State = State with { Status = ProcessStatus.Running, StartedAt = 1 };
        return State;
    }

    /// <summary>The process exits (or is killed): the shim records it and tells its waiters.</summary>
    public void Exit(int code, string reason)
    {
        if (State.Status == ProcessStatus.Exited)
        {
            return;
        }
        State = State with { Status = ProcessStatus.Exited, ExitCode = code, FinishedAt = 2, Reason = reason };
        _ended.TrySetResult(State);
    }

    /// <summary>The shim itself is killed: its connections break, and it answers nothing any more.</summary>
    public void Die()
    {
        Alive = false;
        _ended.TrySetResult(null);
    }
}
