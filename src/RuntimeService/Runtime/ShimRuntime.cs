using System.Collections.Concurrent;
using System.Diagnostics;
using Berth.Api.Shim;
using Berth.Core;
using Berth.Core.Errors;

namespace Berth.RuntimeService.Runtime;

/// <summary>
/// <see cref="IShimRuntime"/> over berth-shim processes: starts <c>berth-shim serve BUNDLE</c>, keeps
/// one control connection per shim for ordinary calls (reconnecting after a broken one), gives
/// Wait and ExecSync connections of their own (a shim answers one request per connection at a time),
/// and turns the shim's error codes into domain error kinds.
/// </summary>
public sealed class ShimRuntime(string shimPath) : IShimRuntime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan ReconnectTimeout = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, ShimClient> _connections = new(StringComparer.Ordinal);

    /// <summary>The berth-shim binary this runtime starts.</summary>
    public string ShimPath => shimPath;

    public async Task<ProcessState> CreateAsync(ShimTarget target, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target.SocketPath)!);
        var start = new ProcessStartInfo(shimPath) { UseShellExecute = false };
        start.ArgumentList.Add("serve");
        start.ArgumentList.Add(target.Bundle);
        Process process;
        try
        {
            using var starting = Telemetry.Source.StartActivity("shim.process_start");
            process = Process.Start(start) ?? throw BerthException.Internal($"could not start {shimPath}");
        }
        catch (System.ComponentModel.Win32Exception error)
        {
            throw BerthException.Internal($"could not start the shim {shimPath}: {error.Message}", error);
        }
        // The shim detaches (setsid) and outlives berthd; until then berthd reaps it when it exits.
        _ = process.WaitForExitAsync(CancellationToken.None).ContinueWith(_ => process.Dispose(), TaskScheduler.Default);
        ShimClient client;
        try
        {
            using var connecting = Telemetry.Source.StartActivity("shim.connect");
            client = await ShimClient.ConnectAsync(target.SocketPath, StartTimeout, cancellationToken);
        }
        catch (ShimUnavailableException error)
        {
            string log = File.Exists(BundleLayout.ShimLogPath(target.Bundle)) ? File.ReadAllText(BundleLayout.ShimLogPath(target.Bundle)).Trim() : "";
            throw BerthException.Unavailable($"the shim of {target.Id} did not answer on {target.SocketPath}: {error.Message} {log}".TrimEnd(), error);
        }
        Remember(target, client);
        StateResponse created;
        using (var creating = Telemetry.Source.StartActivity("shim.create_call"))
        {
            created = await CallAsync<StateResponse>(target, shim => shim.CreateAsync(cancellationToken), "create");
            AddShimSpans(created.StageTimings);
        }
        return ProcessState.FromShim(created);
    }

    /// <summary>
    /// The shim's own steps (its report in Create's answer, by the node's real-time clock) as child spans
    /// of the current one, so a trace shows where a create went inside the shim too.
    /// </summary>
    private static void AddShimSpans(IEnumerable<StageTiming> stages)
    {
        foreach (var stage in stages)
        {
            using var span = Telemetry.Source.StartActivity(stage.Name, ActivityKind.Internal, parentContext: default,
                startTime: DateTimeOffset.UnixEpoch.AddTicks(stage.StartUnixNanos / 100));
            span?.SetEndTime(DateTime.UnixEpoch.AddTicks(stage.EndUnixNanos / 100));
        }
    }

    public Task<ProcessState> StartAsync(ShimTarget target, CancellationToken cancellationToken) =>
        CallAsync(target, shim => shim.StartAsync(cancellationToken), "start");

    public async Task<ProcessState?> TryGetStateAsync(ShimTarget target, CancellationToken cancellationToken)
    {
        try
        {
            return await CallAsync(target, shim => shim.StateAsync(cancellationToken), "state");
        }
        catch (BerthException error) when (error.Kind == ErrorKind.Unavailable)
        {
            return null;
        }
    }

    public async Task<ProcessState?> WaitAsync(ShimTarget target, CancellationToken cancellationToken)
    {
        try
        {
            using var waiter = await ShimClient.ConnectAsync(target.SocketPath, ReconnectTimeout, cancellationToken);
            return ProcessState.FromShim(await waiter.WaitAsync(cancellationToken));
        }
        catch (ShimUnavailableException)
        {
            return null;
        }
        catch (ShimException error)
        {
            throw Translate(target, error, "wait");
        }
    }

    public async Task SignalAsync(ShimTarget target, int signal, bool all, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(target, async shim => { await shim.KillAsync(signal, all, cancellationToken); return true; }, "signal");
        }
        catch (BerthException error) when (error.Kind == ErrorKind.FailedPrecondition)
        {
            // It exited in between: nothing left to signal.
        }
    }

    public async Task<ExecSyncResult> ExecSyncAsync(ShimTarget target, ExecSyncCommand command, CancellationToken cancellationToken)
    {
        var request = new ExecSyncRequest
        {
            TimeoutMs = command.Timeout is { } timeout ? (long)timeout.TotalMilliseconds : 0,
            OutputLimit = command.OutputLimit,
        };
        request.Args.AddRange(command.Args);
        try
        {
            // A connection of its own: an exec may run for its whole timeout while kubelet stops or inspects the container.
            using var shim = await ShimClient.ConnectAsync(target.SocketPath, ReconnectTimeout, cancellationToken);
            var result = await shim.ExecSyncAsync(request, cancellationToken);
            return new ExecSyncResult(result.ExitCode, result.Stdout.Memory, result.Stderr.Memory, result.TimedOut);
        }
        catch (ShimException error)
        {
            throw Translate(target, error, "exec");
        }
    }

    public async Task<ExecProcess> ExecAsync(ShimTarget target, ExecCommand command, CancellationToken cancellationToken)
    {
        var process = new ExecSyncRequest();
        process.Args.AddRange(command.Args);
        var request = new Request
        {
            Exec = new ExecRequest { Process = process, Tty = command.Tty, Stdin = command.Stdin, Stdout = command.Stdout, Stderr = command.Stderr },
        };
        return new ShimExecProcess(target, await OpenSessionAsync(target, request, "exec", cancellationToken));
    }

    public async Task<Attachment> AttachAsync(ShimTarget target, AttachStreams streams, CancellationToken cancellationToken)
    {
        var request = new Request { Attach = new AttachRequest { Stdin = streams.Stdin, Stdout = streams.Stdout, Stderr = streams.Stderr } };
        return new ShimAttachment(await OpenSessionAsync(target, request, "attach", cancellationToken), streams);
    }

    /// <summary>A session on a connection of its own: it lasts as long as the exec or the attachment.</summary>
    private static async Task<ShimSession> OpenSessionAsync(ShimTarget target, Request request, string what, CancellationToken cancellationToken)
    {
        ShimClient? shim = null;
        try
        {
            shim = await ShimClient.ConnectAsync(target.SocketPath, ReconnectTimeout, cancellationToken);
            return await shim.OpenSessionAsync(request, cancellationToken);
        }
        catch (ShimException error)
        {
            shim?.Dispose();
            throw Translate(target, error, what);
        }
        catch
        {
            shim?.Dispose();
            throw;
        }
    }

    public Task UpdateResourcesAsync(ShimTarget target, LinuxResources resources, CancellationToken cancellationToken) =>
        CallAsync(target, async shim => { await shim.UpdateResourcesAsync(resources, cancellationToken); return true; }, "update resources");

    public Task FreezeAsync(ShimTarget target, bool frozen, CancellationToken cancellationToken) =>
        CallAsync(target, async shim => { await shim.FreezeAsync(frozen, cancellationToken); return true; }, frozen ? "freeze" : "thaw");

    public Task ReopenLogAsync(ShimTarget target, CancellationToken cancellationToken) =>
        CallAsync(target, async shim => { await shim.ReopenLogAsync(cancellationToken); return true; }, "reopen the log");

    public async Task ShutdownAsync(ShimTarget target, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(target, async shim => { await shim.ShutdownAsync(cancellationToken); return true; }, "shut down");
        }
        catch (BerthException error) when (error.Kind == ErrorKind.Unavailable)
        {
            // Gone already (killed, or exited in between): what it held is cleaned by the caller.
        }
        finally
        {
            Forget(target);
            // A shim killed with SIGKILL cannot remove its own socket.
            if (File.Exists(target.SocketPath))
            {
                File.Delete(target.SocketPath);
            }
        }
    }

    public ProcessState? RecordedExit(ShimTarget target) =>
        ShimJson.TryReadExit(Path.Combine(target.Bundle, BundleLayout.ExitFile)) is { } exit ? ProcessState.FromExitRecord(exit) : null;

    /// <summary>One call on the target's shared connection, connecting first when there is none; errors become domain kinds.</summary>
    private async Task<T> CallAsync<T>(ShimTarget target, Func<ShimClient, Task<T>> call, string what)
    {
        ShimClient? client = null;
        try
        {
            client = await ConnectionAsync(target);
            return await call(client);
        }
        catch (ShimException error)
        {
            if (error is ShimUnavailableException && client is not null)
            {
                Forget(target, client);
            }
            throw Translate(target, error, what);
        }
    }

    private Task<ProcessState> CallAsync(ShimTarget target, Func<ShimClient, Task<StateResponse>> call, string what) =>
        CallAsync<ProcessState>(target, async shim => ProcessState.FromShim(await call(shim)), what);

    private async Task<ShimClient> ConnectionAsync(ShimTarget target)
    {
        if (_connections.TryGetValue(target.SocketPath, out var existing))
        {
            return existing;
        }
        if (!File.Exists(target.SocketPath))
        {
            throw new ShimUnavailableException($"no shim socket at {target.SocketPath}");
        }
        return Remember(target, await ShimClient.ConnectAsync(target.SocketPath, ReconnectTimeout));
    }

    private ShimClient Remember(ShimTarget target, ShimClient client)
    {
        var kept = _connections.GetOrAdd(target.SocketPath, client);
        if (!ReferenceEquals(kept, client))
        {
            client.Dispose();
        }
        return kept;
    }

    /// <summary>Drops the target's shared connection (only <paramref name="broken"/>, when given, so a fresh one is kept).</summary>
    private void Forget(ShimTarget target, ShimClient? broken = null)
    {
        if (broken is not null)
        {
            if (_connections.TryRemove(new KeyValuePair<string, ShimClient>(target.SocketPath, broken)))
            {
                broken.Dispose();
            }
        }
        else if (_connections.TryRemove(target.SocketPath, out var removed))
        {
            removed.Dispose();
        }
    }

    private static BerthException Translate(ShimTarget target, ShimException error, string what) => error switch
    {
        ShimUnavailableException => BerthException.Unavailable($"the shim of {target.Id} is gone ({what}): {error.Message}", error),
        _ => new BerthException(error.Code switch
        {
            ErrorCode.InvalidArgument => ErrorKind.InvalidArgument,
            ErrorCode.FailedPrecondition or ErrorCode.CreateFailed or ErrorCode.ExecFailed => ErrorKind.FailedPrecondition,
            ErrorCode.ResourceExhausted => ErrorKind.ResourceExhausted,
            _ => ErrorKind.Internal,
        }, error.Message, error),
    };
}
