using System.Net.Security;
using System.Net.WebSockets;
using System.Threading.Channels;
using Berth.Api.Streaming.Channels;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Api.Streaming.Spdy;

namespace Berth.Api.Streaming.Client;

/// <summary>How a client reaches a streaming server.</summary>
public enum StreamingTransport
{
    /// <summary>SPDY/3.1, as kubelet, kubectl (before 1.30) and crictl speak to a runtime.</summary>
    Spdy,

    /// <summary>WebSocket with a channel subprotocol (kubectl 1.30 and later speak v5 to the API server).</summary>
    WebSocket,
}

/// <summary>What an exec or attach session connects: the local streams and, with a terminal, its sizes.</summary>
public sealed record RemoteCommandStreams
{
    /// <summary>Copied to the process's stdin; its end half-closes stdin (SPDY FIN, v5's close signal).</summary>
    public Stream? Stdin { get; init; }

    public Stream? Stdout { get; init; }

    /// <summary>Not used with <see cref="Tty"/> (the terminal's output is all stdout).</summary>
    public Stream? Stderr { get; init; }

    public bool Tty { get; init; }

    /// <summary>Terminal sizes to send, in order (the resize stream, v3 and later).</summary>
    public ChannelReader<TerminalSize>? Resizes { get; init; }
}

/// <summary>How a session ended: the protocol the server chose and the status it wrote (null: success).</summary>
public sealed record RemoteCommandResult(string Protocol, ExecStatus? Status)
{
    /// <summary>0 on success, the exit code of a non-zero exit, null for any other failure.</summary>
    public int? ExitCode => Status is null ? 0 : Status.ExitCode;
}

/// <summary>
/// The project's own client of exec and attach URLs (client-go's remotecommand executors, for tests and
/// the benchmark): the streams client-go opens (error, stdin, stdout, stderr without a terminal, resize
/// with one from v3), copies until the output ends, then reads the status from the error stream.
/// </summary>
public static class RemoteCommandClient
{
    private const int CopyBuffer = 32 * 1024;

    /// <summary>
    /// Runs a session on <paramref name="url"/> over <paramref name="transport"/>, offering <paramref name="protocols"/> (default: all,
    /// newest first); an https URL's certificate is checked by <paramref name="certificateValidation"/> when given (the system's trust otherwise).
    /// </summary>
    /// <exception cref="StreamingUpgradeException">The server refused the connection.</exception>
    public static Task<RemoteCommandResult> RunAsync(Uri url, RemoteCommandStreams streams, StreamingTransport transport,
        IReadOnlyList<string>? protocols = null, CancellationToken cancellationToken = default, RemoteCertificateValidationCallback? certificateValidation = null) =>
        transport == StreamingTransport.Spdy
            ? RunSpdyAsync(url, streams, protocols ?? StreamProtocols.RemoteCommandSpdy, certificateValidation, cancellationToken)
            : RunWebSocketAsync(url, streams, protocols ?? StreamProtocols.RemoteCommandWebSocket, certificateValidation, cancellationToken);

    private static async Task<RemoteCommandResult> RunSpdyAsync(Uri url, RemoteCommandStreams streams, IReadOnlyList<string> protocols,
        RemoteCertificateValidationCallback? certificateValidation, CancellationToken cancellationToken)
    {
        var (connection, protocol) = await StreamingUpgradeClient.UpgradeSpdyAsync(url, protocols, cancellationToken, certificateValidation);
        await using (connection)
        {
            SpdyStream error = await OpenAsync(connection, StreamTypes.Error, cancellationToken);
            SpdyStream? stdin = streams.Stdin is null ? null : await OpenAsync(connection, StreamTypes.Stdin, cancellationToken);
            SpdyStream? stdout = streams.Stdout is null ? null : await OpenAsync(connection, StreamTypes.Stdout, cancellationToken);
            SpdyStream? stderr = streams.Stderr is null || streams.Tty ? null : await OpenAsync(connection, StreamTypes.Stderr, cancellationToken);
            SpdyStream? resize = streams.Tty && StreamProtocols.SupportsResize(protocol) ? await OpenAsync(connection, StreamTypes.Resize, cancellationToken) : null;

            Task<byte[]> errorBytes = ReadAllAsync(error, cancellationToken);
            Task input = stdin is null ? Task.CompletedTask : CopyThenAsync(streams.Stdin!, stdin, () => stdin.CloseWriteAsync(), cancellationToken);
            Task sizes = resize is null || streams.Resizes is null ? Task.CompletedTask : SendSizesAsync(streams.Resizes, resize, cancellationToken);
            await Task.WhenAll(CopyOutputAsync(stdout, streams.Stdout, cancellationToken), CopyOutputAsync(stderr, streams.Stderr, cancellationToken));
            byte[] status = await errorBytes;
            await connection.GoAwayAsync();
            return new RemoteCommandResult(protocol, ExecStatus.Decode(status, protocol));
        }
    }

    private static async Task<RemoteCommandResult> RunWebSocketAsync(Uri url, RemoteCommandStreams streams, IReadOnlyList<string> protocols,
        RemoteCertificateValidationCallback? certificateValidation, CancellationToken cancellationToken)
    {
        using var socket = new ClientWebSocket();
        socket.Options.RemoteCertificateValidationCallback = certificateValidation;
        foreach (string protocol in protocols)
        {
            socket.Options.AddSubProtocol(protocol);
        }
        await socket.ConnectAsync(WebSocketUrl(url), cancellationToken);
        string chosen = socket.SubProtocol ?? "";
        await using var channels = new WebSocketChannels(socket, chosen, [ChannelNumbers.Stdout, ChannelNumbers.Stderr, ChannelNumbers.Error], Timeout.InfiniteTimeSpan);
        channels.Start();
        Task<byte[]> errorBytes = ReadAllAsync(channels.Channel(ChannelNumbers.Error), cancellationToken);
        Task input = streams.Stdin is null
            ? Task.CompletedTask
            : CopyThenAsync(streams.Stdin, channels.Channel(ChannelNumbers.Stdin), () => channels.CloseChannelAsync(ChannelNumbers.Stdin, CancellationToken.None), cancellationToken);
        Task sizes = streams.Tty && streams.Resizes is not null ? SendSizesAsync(streams.Resizes, channels.Channel(ChannelNumbers.Resize), cancellationToken) : Task.CompletedTask;
        await Task.WhenAll(
            CopyOutputAsync(streams.Stdout is null ? null : channels.Channel(ChannelNumbers.Stdout), streams.Stdout, cancellationToken),
            CopyOutputAsync(streams.Stderr is null || streams.Tty ? null : channels.Channel(ChannelNumbers.Stderr), streams.Stderr, cancellationToken));
        byte[] status = await errorBytes;
        await channels.CloseAsync(TimeSpan.FromSeconds(5));
        return new RemoteCommandResult(chosen, ExecStatus.Decode(status, chosen));
    }

    /// <summary>ws:// or wss:// for an http:// or https:// URL.</summary>
    public static Uri WebSocketUrl(Uri url) => new UriBuilder(url) { Scheme = url.Scheme == Uri.UriSchemeHttps ? "wss" : "ws" }.Uri;

    private static Task<SpdyStream> OpenAsync(SpdyConnection connection, string type, CancellationToken cancellationToken) =>
        connection.OpenStreamAsync([new(StreamTypes.Header, type)], cancellationToken);

    private static async Task<byte[]> ReadAllAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var all = new MemoryStream();
        try
        {
            await stream.CopyToAsync(all, cancellationToken);
        }
        catch (IOException)
        {
        }
        return all.ToArray();
    }

    private static async Task CopyOutputAsync(Stream? remote, Stream? local, CancellationToken cancellationToken)
    {
        if (remote is null || local is null)
        {
            return;
        }
        try
        {
            await remote.CopyToAsync(local, CopyBuffer, cancellationToken);
        }
        catch (IOException)
        {
            // A reset stream ends like a closed one (spdystream does the same).
        }
    }

    private static async Task CopyThenAsync(Stream from, Stream to, Func<Task> ended, CancellationToken cancellationToken)
    {
        try
        {
            await from.CopyToAsync(to, CopyBuffer, cancellationToken);
            await ended();
        }
        catch (Exception error) when (error is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private static async Task SendSizesAsync(ChannelReader<TerminalSize> sizes, Stream resize, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (TerminalSize size in sizes.ReadAllAsync(cancellationToken))
            {
                await resize.WriteAsync(size.ToJson(), cancellationToken);
            }
        }
        catch (Exception error) when (error is IOException or OperationCanceledException)
        {
        }
    }
}
