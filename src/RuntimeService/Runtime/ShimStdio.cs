using System.Net.Sockets;
using Berth.Api.Shim;
using Berth.Core.Errors;
using Berth.RuntimeService.Runtime.Descriptors;

namespace Berth.RuntimeService.Runtime;

/// <summary>
/// The descriptors a shim handed over for a streaming session (<see cref="ShimSession"/>) as streams:
/// unix sockets as <see cref="NetworkStream"/>s (.NET's epoll engine), a terminal master or a pipe's end
/// as a <see cref="DescriptorStream"/>.
/// </summary>
internal static class ShimStdio
{
    /// <summary>A socket descriptor as a stream that owns it; null for -1.</summary>
    public static NetworkStream? Socket(int fd) =>
        fd < 0 ? null : new NetworkStream(new System.Net.Sockets.Socket(new SafeSocketHandle(fd, ownsHandle: true)), ownsSocket: true);

    /// <summary>Any other descriptor as a stream that owns it; null for -1.</summary>
    public static DescriptorStream? Descriptor(int fd) => fd < 0 ? null : new DescriptorStream(fd);

    public static void Resize(DescriptorStream? terminal, ushort columns, ushort rows)
    {
        if (terminal is { Descriptor: >= 0 and var fd } && columns > 0 && rows > 0)
        {
            Interop.Sys.SetWindowSize(fd, rows, columns);
        }
    }

    public static async ValueTask DisposeAllAsync(params Stream?[] streams)
    {
        foreach (Stream? stream in streams.Distinct())
        {
            if (stream is not null)
            {
                await stream.DisposeAsync();
            }
        }
    }
}

/// <summary>A streaming exec run by a shim: the session's connection reports the exit; closing it kills the command.</summary>
internal sealed class ShimExecProcess : ExecProcess
{
    private readonly ShimSession _session;
    private readonly DescriptorStream? _terminal;
    private readonly NetworkStream? _stdinSocket;

    public ShimExecProcess(ShimTarget target, ShimSession session)
    {
        _session = session;
        _terminal = ShimStdio.Descriptor(session.Take(StdioStream.Terminal));
        _stdinSocket = ShimStdio.Socket(session.Take(StdioStream.Stdin));
        Terminal = _terminal is not null;
        Stdin = Terminal ? _terminal : _stdinSocket;
        Stdout = Terminal ? _terminal : ShimStdio.Socket(session.Take(StdioStream.Stdout));
        Stderr = ShimStdio.Socket(session.Take(StdioStream.Stderr));
        Exited = WaitForExitAsync(target);
    }

    public override Task<int> Exited { get; }

    public override void Resize(ushort columns, ushort rows) => ShimStdio.Resize(_terminal, columns, rows);

    public override Task CloseStdinAsync()
    {
        try
        {
            _stdinSocket?.Socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
        }
        return Task.CompletedTask;
    }

    public override async ValueTask DisposeAsync()
    {
        _session.Dispose();
        await ShimStdio.DisposeAllAsync(Stdin, Stdout, Stderr);
        try
        {
            await Exited;
        }
        catch (BerthException)
        {
        }
    }

    private async Task<int> WaitForExitAsync(ShimTarget target)
    {
        try
        {
            Response response = await _session.NextAsync();
            return response.ResultCase == Response.ResultOneofCase.ExecExited
                ? response.ExecExited.ExitCode
                : throw BerthException.Internal($"the shim of {target.Id} answered {response.ResultCase} for an exec's end");
        }
        catch (ShimUnavailableException error)
        {
            throw BerthException.Unavailable($"the shim of {target.Id} is gone (exec): {error.Message}", error);
        }
        catch (ShimException error)
        {
            throw BerthException.FailedPrecondition(error.Message, error);
        }
    }
}

/// <summary>An attachment served by a shim: it lasts as long as the session's connection.</summary>
internal sealed class ShimAttachment : Attachment
{
    private readonly ShimSession _session;
    private readonly DescriptorStream? _terminal;

    public ShimAttachment(ShimSession session, AttachStreams streams)
    {
        _session = session;
        Attached attached = session.Started.Attached;
        _terminal = ShimStdio.Descriptor(session.Take(StdioStream.Terminal));
        Terminal = attached.Tty;
        StdinOnce = attached.StdinOnce;
        Stdin = Terminal ? (streams.Stdin && attached.Stdin ? _terminal : null) : ShimStdio.Descriptor(session.Take(StdioStream.Stdin));
        Stdout = ShimStdio.Socket(session.Take(StdioStream.Stdout));
        Stderr = ShimStdio.Socket(session.Take(StdioStream.Stderr));
    }

    public override void Resize(ushort columns, ushort rows) => ShimStdio.Resize(_terminal, columns, rows);

    public override async Task CloseStdinAsync()
    {
        if (!Terminal && Stdin is not null)
        {
            await Stdin.DisposeAsync();
        }
        try
        {
            await _session.CloseStdinAsync();
        }
        catch (ShimException)
        {
            // The shim is gone: so is the container's stdin.
        }
    }

    public override async ValueTask DisposeAsync()
    {
        _session.Dispose();
        await ShimStdio.DisposeAllAsync(Stdin, Stdout, Stderr, _terminal);
    }
}
