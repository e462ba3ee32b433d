using Berth.Api.Streaming.Channels;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Api.Streaming.Spdy;

namespace Berth.RuntimeService.Streaming;

/// <summary>Which streams an exec or attach session has (from its CRI request).</summary>
public sealed record RemoteCommandOptions(bool Stdin, bool Stdout, bool Stderr, bool Tty);

/// <summary>
/// An exec or attach session's streams as the server holds them once the client's transport is set up,
/// whatever it is (SPDY streams, or WebSocket channels): stdin and resize to read, stdout and stderr to
/// write, the error stream for the final status, and the way to end the session gracefully.
/// </summary>
public abstract class RemoteCommandChannels : IAsyncDisposable
{
    /// <summary>How long the end of a session waits for the client to close its side before the connection is cut.</summary>
    public static readonly TimeSpan FinishDrain = TimeSpan.FromSeconds(30);

    /// <summary>The negotiated protocol (decides the error stream's format).</summary>
    public required string Protocol { get; init; }

    public Stream? Stdin { get; init; }
    public Stream? Stdout { get; init; }
    public Stream? Stderr { get; init; }

    /// <summary>The JSON terminal sizes (v3 and later with a terminal).</summary>
    public Stream? Resize { get; init; }

    /// <summary>Cancelled when the client's connection is gone.</summary>
    public abstract CancellationToken ClientGone { get; }

    /// <summary>Writes how the session ended on the error stream (<see cref="ExecStatus.Encode"/>).</summary>
    public abstract Task WriteStatusAsync(ExecStatus status);

    /// <summary>Nothing more comes on <paramref name="output"/> (stdout or stderr): SPDY sends FIN.</summary>
    public abstract Task CloseOutputAsync(Stream output);

    /// <summary>Ends the session: every stream closed, then the connection, after the client closed its side or <see cref="FinishDrain"/>.</summary>
    public abstract Task FinishAsync();

    /// <summary>Ends the session with <paramref name="status"/>: the status, then <see cref="FinishAsync"/>.</summary>
    public async Task EndAsync(ExecStatus status)
    {
        await WriteStatusAsync(status);
        await FinishAsync();
    }

    public abstract ValueTask DisposeAsync();
}

/// <summary>The streams of a session over SPDY: one <see cref="SpdyStream"/> each, on one connection.</summary>
public sealed class SpdyRemoteCommandChannels : RemoteCommandChannels
{
    public required SpdyConnection Connection { get; init; }
    public required SpdyStream Error { get; init; }

    /// <summary>Every stream accepted (closed at the end).</summary>
    public required IReadOnlyList<SpdyStream> All { get; init; }

    public override CancellationToken ClientGone => Connection.Closed;

    public override async Task WriteStatusAsync(ExecStatus status)
    {
        byte[] bytes = status.Encode(Protocol);
        try
        {
            if (bytes.Length > 0)
            {
                await Error.WriteAsync(bytes);
            }
            await Error.CloseWriteAsync();
        }
        catch (IOException)
        {
            // The client went away first.
        }
    }

    public override Task CloseOutputAsync(Stream output) => ((SpdyStream)output).CloseWriteAsync();

    public override async Task FinishAsync()
    {
        foreach (SpdyStream stream in All)
        {
            if (Protocol == StreamProtocols.V1 && stream == Error)
            {
                // As 1.0 kubelets did (and kubelet keeps for v1): the error stream is reset at the end.
                await stream.ResetAsync();
            }
            else
            {
                await stream.CloseWriteAsync();
            }
        }
        await Connection.ShutdownAsync(FinishDrain);
    }

    public override ValueTask DisposeAsync() => Connection.DisposeAsync();
}

/// <summary>The channels of a session over WebSocket (channel.k8s.io and its versions).</summary>
public sealed class WebSocketRemoteCommandChannels : RemoteCommandChannels
{
    public required WebSocketChannels Channels { get; init; }

    public override CancellationToken ClientGone => Channels.Closed;

    public override async Task WriteStatusAsync(ExecStatus status)
    {
        byte[] bytes = status.Encode(Protocol);
        if (bytes.Length == 0)
        {
            return;
        }
        try
        {
            await Channels.SendAsync(ChannelNumbers.Error, bytes, CancellationToken.None);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Channels have no end of their own before the connection's (v5's close signal is the client's, for stdin).</summary>
    public override Task CloseOutputAsync(Stream output) => Task.CompletedTask;

    public override Task FinishAsync() => Channels.CloseAsync(FinishDrain);

    public override ValueTask DisposeAsync() => Channels.DisposeAsync();
}
