using Berth.Api.Streaming.RemoteCommand;
using Berth.Core.Errors;
using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Runtime;

namespace Berth.RuntimeService.Streaming;

/// <summary>
/// What an exec or attach session does once its streams are set up, whatever the transport: copy the
/// client's stdin and terminal sizes in and the process's output out, and end the session with its status
/// (kubelet's ServeExec and ServeAttach over containerd's execInternal and attach). A session ends when the
/// process exits (exec) or its output ends (attach), when the client goes away (the exec is killed), and
/// when the container stops (its shim kills the execs and ends the output).
/// </summary>
public sealed class RemoteCommandSessions(ContainerManager containers, ILogger<RemoteCommandSessions> logger)
{
    /// <summary>
    /// How long output may still arrive after an exec's process exited: children it left may hold its stdout
    /// (containerd's drain_exec_sync_io_timeout, which it leaves unbounded by default; a session here ends).
    /// </summary>
    public static readonly TimeSpan OutputDrain = TimeSpan.FromSeconds(2);

    private const int CopyBuffer = 32 * 1024;

    /// <summary>
    /// Runs <paramref name="command"/> in <paramref name="container"/> for a session that <paramref name="open"/> sets up.
    /// The command starts as soon as the upgrade is agreed (<paramref name="open"/> calls its argument before the 101
    /// answer), not once the client's streams are all open as kubelet's server does: its start (a process spawned into
    /// the container, a few milliseconds) then overlaps the client's stream round trips. Its output waits in its
    /// sockets meanwhile; a client that never opens its streams gets the command killed.
    /// </summary>
    /// <param name="open">Sets the transport up (null: refused, or the streams never came), calling its argument once the upgrade is agreed.</param>
    public async Task ExecAsync(Container container, IReadOnlyList<string> command, RemoteCommandOptions options,
        Func<Action, Task<RemoteCommandChannels?>> open)
    {
        var exec = new ExecCommand(command, options.Tty, options.Stdin, options.Stdout, options.Stderr && !options.Tty);
        using var abandoned = new CancellationTokenSource();
        Task<ExecProcess>? starting = null;
        RemoteCommandChannels? channels = null;
        try
        {
            channels = await open(() => starting = StartAsync(container, exec, abandoned.Token));
        }
        finally
        {
            if (channels is null && starting is not null)
            {
                await abandoned.CancelAsync();
                await DiscardAsync(starting);
            }
        }
        if (channels is null)
        {
            return;
        }
        await using (channels)
        {
            using var clientGone = channels.ClientGone.Register(abandoned.Cancel);
            ExecProcess process;
            try
            {
                process = await (starting ?? StartAsync(container, exec, abandoned.Token));
            }
            catch (Exception error) when (error is BerthException or OperationCanceledException)
            {
                await channels.EndAsync(error is BerthException { Kind: ErrorKind.ResourceExhausted }
                    ? ExecStatus.TooManyRequests($"error executing command in container: {error.Message}")
                    : ExecStatus.Internal($"error executing command in container: {error.Message}"));
                return;
            }
            ExecStatus? status;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(channels.ClientGone);
            await using (process)
            {
                var outputs = StartOutputs(process, channels, stop.Token);
                // The end of the client's stdin is the command's end of file; a terminal has none (the client types ^D).
                Task input = CopyInputAsync(process, channels, stop.Token, stdinEnded: process.Terminal ? () => Task.CompletedTask : process.CloseStdinAsync);
                Task resize = ResizeAsync(process, channels, stop.Token);
                status = await WaitForExitAsync(container, command, process, outputs, channels.ClientGone);
                stop.Cancel();
                await Task.WhenAll([input, resize, .. outputs]);
            }
            if (status is not null)
            {
                await channels.EndAsync(status);
            }
        }
    }

    /// <summary>The exec's start as a task: a refusal (not running, too many) faults it rather than throwing at the caller.</summary>
    private async Task<ExecProcess> StartAsync(Container container, ExecCommand exec, CancellationToken cancellationToken) =>
        await containers.ExecAsync(container, exec, cancellationToken);

    /// <summary>A command started for a session that never came: disposing it kills it.</summary>
    private static async Task DiscardAsync(Task<ExecProcess> starting)
    {
        try
        {
            await using ExecProcess process = await starting;
        }
        catch (Exception error) when (error is BerthException or OperationCanceledException)
        {
        }
    }

    /// <summary>Attaches a session on <paramref name="channels"/> to <paramref name="container"/>'s own stdio.</summary>
    public async Task AttachAsync(Container container, RemoteCommandOptions options, RemoteCommandChannels channels)
    {
        await using (channels)
        {
            Attachment attachment;
            try
            {
                attachment = await containers.AttachAsync(container, new AttachStreams(options.Stdin, options.Stdout, options.Stderr), channels.ClientGone);
            }
            catch (Exception error) when (error is BerthException or OperationCanceledException)
            {
                await channels.EndAsync(ExecStatus.Internal($"error attaching to container: {error.Message}"));
                return;
            }
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(channels.ClientGone);
            var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (attachment)
            {
                var outputs = StartOutputs(attachment, channels, stop.Token);
                // The client's stdin ending: with stdin_once (and no terminal) the container's stdin closes and
                // the session goes on; otherwise the session ends (containerd closes the attach's output then).
                Task input = CopyInputAsync(attachment, channels, stop.Token, stdinEnded: async () =>
                {
                    if (attachment.StdinOnce && !attachment.Terminal)
                    {
                        await attachment.CloseStdinAsync();
                    }
                    else
                    {
                        ended.TrySetResult();
                    }
                });
                Task resize = ResizeAsync(attachment, channels, stop.Token);
                Task outputsDone = outputs.Count > 0 ? Task.WhenAll(outputs) : Task.Delay(Timeout.Infinite, stop.Token);
                await Task.WhenAny(outputsDone, container.Exited, ended.Task, Task.Delay(Timeout.Infinite, channels.ClientGone));
                if (container.Exited.IsCompleted)
                {
                    await WaitQuietlyAsync(outputsDone, OutputDrain);
                }
                stop.Cancel();
                await Task.WhenAll([input, resize, .. outputs]);
            }
            if (!channels.ClientGone.IsCancellationRequested)
            {
                await channels.EndAsync(ExecStatus.Succeeded);
            }
        }
    }

    /// <summary>
    /// The exec's status once it exited and its output is read (up to <see cref="OutputDrain"/>); null when
    /// the client went away first (disposing the process then kills it).
    /// </summary>
    private async Task<ExecStatus?> WaitForExitAsync(Container container, IReadOnlyList<string> command, ExecProcess process, IReadOnlyList<Task> outputs, CancellationToken clientGone)
    {
        try
        {
            int exitCode = await process.Exited.WaitAsync(clientGone);
            await WaitQuietlyAsync(Task.WhenAll(outputs), OutputDrain);
            return exitCode == 0 ? ExecStatus.Succeeded : ExecStatus.Exited(exitCode, command);
        }
        catch (OperationCanceledException)
        {
            logger.LogInformation("Exec in container {Id}: the client went away; the command is killed", container.Id);
            return null;
        }
        catch (BerthException error)
        {
            return ExecStatus.Internal($"error executing command in container: {error.Message}");
        }
    }

    /// <summary>One copy per output stream both sides have: process to client, then the client's stream is closed.</summary>
    private static List<Task> StartOutputs(ProcessStdio process, RemoteCommandChannels channels, CancellationToken stop)
    {
        var outputs = new List<Task>();
        foreach (var (from, to) in new[] { (process.Stdout, channels.Stdout), (process.Stderr, channels.Stderr) })
        {
            if (from is not null && to is not null)
            {
                outputs.Add(CopyOutputAsync(from, to, channels, stop));
            }
        }
        return outputs;
    }

    private static async Task CopyOutputAsync(Stream from, Stream to, RemoteCommandChannels channels, CancellationToken stop)
    {
        try
        {
            await from.CopyToAsync(to, CopyBuffer, stop);
            await channels.CloseOutputAsync(to);
        }
        catch (Exception error) when (IsEndOfCopy(error))
        {
        }
    }

    /// <summary>Client stdin to the process until the client ends it (then <paramref name="stdinEnded"/>), or the session stops.</summary>
    private static async Task CopyInputAsync(ProcessStdio process, RemoteCommandChannels channels, CancellationToken stop, Func<Task> stdinEnded)
    {
        if (channels.Stdin is null || process.Stdin is null)
        {
            return;
        }
        try
        {
            await channels.Stdin.CopyToAsync(process.Stdin, CopyBuffer, stop);
            if (!stop.IsCancellationRequested && !channels.ClientGone.IsCancellationRequested)
            {
                await stdinEnded();
            }
        }
        catch (Exception error) when (IsEndOfCopy(error))
        {
        }
    }

    private static async Task ResizeAsync(ProcessStdio process, RemoteCommandChannels channels, CancellationToken stop)
    {
        if (channels.Resize is null || !process.Terminal)
        {
            return;
        }
        try
        {
            await foreach (TerminalSize size in TerminalSize.ReadAllAsync(channels.Resize, stop))
            {
                process.Resize(size.Width, size.Height);
            }
        }
        catch (Exception error) when (IsEndOfCopy(error))
        {
        }
    }

    private static async Task WaitQuietlyAsync(Task task, TimeSpan timeout)
    {
        try
        {
            await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
        }
    }

    /// <summary>A copy ends this way when a side closes under it: the session's end, not a fault.</summary>
    private static bool IsEndOfCopy(Exception error) =>
        error is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException;
}
