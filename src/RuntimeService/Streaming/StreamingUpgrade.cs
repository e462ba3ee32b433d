using System.Net.WebSockets;
using Berth.Api.Streaming.Channels;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Api.Streaming.Spdy;
using Microsoft.AspNetCore.Http.Features;

namespace Berth.RuntimeService.Streaming;

/// <summary>
/// Turning a streaming request into a connection, as kubelet's streaming server does: the SPDY/3.1
/// upgrade with X-Stream-Protocol-Version negotiation (apimachinery httpstream.Handshake and
/// spdy.responseUpgrader), or a WebSocket with one of the channel subprotocols (wsstream.Conn). Each
/// refusal is answered here with upstream's status and words.
/// </summary>
internal static class StreamingUpgrade
{
    /// <summary>How long a SPDY client may take to open the streams its session needs (upstream DefaultStreamCreationTimeout).</summary>
    public static readonly TimeSpan StreamCreationTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Negotiates a protocol among <paramref name="serverProtocols"/> and upgrades to SPDY/3.1; null when it
    /// answered a refusal instead (400 without the protocol header or upgrade headers, 403 with no common protocol).
    /// <paramref name="accepted"/> runs once every check passed, just before the 101 answer.
    /// </summary>
    public static async Task<(SpdyConnection Connection, string Protocol)?> UpgradeSpdyAsync(
        HttpContext context, IReadOnlyCollection<string> serverProtocols, TimeSpan idleTimeout, Action? accepted = null)
    {
        var clientProtocols = StreamProtocols.SplitHeaderValues(context.Request.Headers[StreamProtocols.ProtocolHeader]);
        if (clientProtocols.Count == 0)
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, $"unable to upgrade: {StreamProtocols.ProtocolHeader} is required");
            return null;
        }
        string? protocol = StreamProtocols.Negotiate(clientProtocols, serverProtocols);
        if (protocol is null)
        {
            foreach (string offered in serverProtocols)
            {
                context.Response.Headers.Append(StreamProtocols.AcceptedProtocolsHeader, offered);
            }
            await RefuseAsync(context, StatusCodes.Status403Forbidden,
                $"unable to upgrade: unable to negotiate protocol: client supports {GoList(clientProtocols)}, server accepts {GoList(serverProtocols)}");
            return null;
        }
        string connection = context.Request.Headers.Connection.ToString();
        string upgrade = context.Request.Headers.Upgrade.ToString();
        var upgradeFeature = context.Features.Get<IHttpUpgradeFeature>();
        if (!connection.Contains("upgrade", StringComparison.OrdinalIgnoreCase) || !upgrade.Contains(StreamProtocols.Spdy31, StringComparison.OrdinalIgnoreCase)
            || upgradeFeature is not { IsUpgradableRequest: true })
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, "unable to upgrade: missing upgrade headers in request");
            return null;
        }
        context.Response.Headers[StreamProtocols.ProtocolHeader] = protocol;
        context.Response.Headers.Connection = "Upgrade";
        context.Response.Headers.Upgrade = StreamProtocols.Spdy31;
        accepted?.Invoke();
        Stream transport = await upgradeFeature.UpgradeAsync();
        var spdy = new SpdyConnection(transport, isServer: true, new SpdyConnectionOptions { IdleTimeout = idleTimeout });
        await spdy.StartAsync();
        return (spdy, protocol);
    }

    /// <summary>
    /// Accepts the WebSocket with the first of the client's subprotocols that <paramref name="serverProtocols"/>
    /// has ("" when the client names none, which upstream treats as binary channel.k8s.io); null when it
    /// answered 403 instead. <paramref name="accepted"/> runs once the protocol is agreed, just before the 101 answer.
    /// </summary>
    public static async Task<(WebSocket Socket, string Protocol)?> AcceptWebSocketAsync(HttpContext context, IReadOnlyCollection<string> serverProtocols,
        Action? accepted = null)
    {
        IList<string> requested = context.WebSockets.WebSocketRequestedProtocols;
        string? protocol = requested.Count == 0 ? "" : requested.FirstOrDefault(serverProtocols.Contains);
        if (protocol is null)
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden,
                $"requested protocol(s) are not supported: {GoList(requested)}; supports {GoList(serverProtocols)}");
            return null;
        }
        accepted?.Invoke();
        WebSocket socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { SubProtocol = protocol.Length > 0 ? protocol : null });
        return (socket, protocol);
    }

    /// <summary>
    /// Waits for the SPDY streams an exec or attach session needs (kubelet's waitForStreams): error, and stdin,
    /// stdout, stderr and resize as asked (resize from v3 on with a terminal), each accepted with SYN_REPLY.
    /// Null when the client did not open them within <see cref="StreamCreationTimeout"/> or went away.
    /// </summary>
    public static async Task<SpdyRemoteCommandChannels?> EstablishAsync(SpdyConnection connection, string protocol, RemoteCommandOptions options, ILogger logger)
    {
        int expected = 1 + (options.Stdin ? 1 : 0) + (options.Stdout ? 1 : 0) + (options.Stderr ? 1 : 0)
            + (options.Tty && StreamProtocols.SupportsResize(protocol) ? 1 : 0);
        var streams = new Dictionary<string, SpdyStream>(StringComparer.Ordinal);
        var all = new List<SpdyStream>();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.Closed);
        timeout.CancelAfter(StreamCreationTimeout);
        try
        {
            int received = 0;
            while (received < expected)
            {
                SpdyStream stream = await connection.IncomingStreams.ReadAsync(timeout.Token);
                await stream.AcceptAsync(timeout.Token);
                all.Add(stream);
                string type = stream.Header(StreamTypes.Header) ?? "";
                if (type is StreamTypes.Error or StreamTypes.Stdin or StreamTypes.Stdout or StreamTypes.Stderr
                    || (type == StreamTypes.Resize && StreamProtocols.SupportsResize(protocol)))
                {
                    streams[type] = stream;
                    received++;
                }
                else
                {
                    logger.LogInformation("Streaming: unexpected stream type {Type} ignored", type);
                    stream.DiscardInbound();
                }
            }
        }
        catch (Exception error) when (error is OperationCanceledException or System.Threading.Channels.ChannelClosedException or IOException)
        {
            logger.LogInformation("Streaming: the client did not open the session's {Expected} streams: {Reason}",
                expected, connection.Closed.IsCancellationRequested ? "it went away" : "timed out waiting for client to create streams");
            await connection.DisposeAsync();
            return null;
        }
        if (!streams.TryGetValue(StreamTypes.Error, out SpdyStream? errorStream))
        {
            logger.LogInformation("Streaming: the client opened no error stream");
            await connection.DisposeAsync();
            return null;
        }
        errorStream.DiscardInbound();
        var channels = new SpdyRemoteCommandChannels
        {
            Protocol = protocol,
            Connection = connection,
            Error = errorStream,
            All = all,
            Stdin = streams.GetValueOrDefault(StreamTypes.Stdin),
            Stdout = streams.GetValueOrDefault(StreamTypes.Stdout),
            Stderr = streams.GetValueOrDefault(StreamTypes.Stderr),
            Resize = streams.GetValueOrDefault(StreamTypes.Resize),
        };
        // An idle close tells the client why, where containerd's ends the session as if it succeeded; the
        // session then ends as any does (FIN on every stream, GOAWAY), so that the status is read, not cut off.
        connection.IdleNoticeAsync = () => channels.EndAsync(ExecStatus.IdleClosed(connection.IdleTimeout));
        if (protocol == StreamProtocols.V1 && channels.Stdin is SpdyStream stdin)
        {
            // v1 closes (half-closes) the stdin stream at once, as kubelet's v1ProtocolHandler does.
            await stdin.CloseWriteAsync();
        }
        // Not before the end for v2 and later: client-go half-closes its stdin as soon as the server does.
        return channels;
    }

    /// <summary>
    /// The channels of an exec or attach session over WebSocket (kubelet's createWebSocketStreams): stdin 0,
    /// stdout 1, stderr 2, error 3, resize 4; then an empty message on the lowest channel the server writes,
    /// upstream's sign that the connection is established.
    /// </summary>
    public static async Task<WebSocketRemoteCommandChannels> OpenChannelsAsync(WebSocket socket, string protocol, RemoteCommandOptions options, TimeSpan idleTimeout)
    {
        var readable = new List<byte> { ChannelNumbers.Resize };
        if (options.Stdin)
        {
            readable.Add(ChannelNumbers.Stdin);
        }
        var channels = new WebSocketChannels(socket, protocol, readable, idleTimeout);
        channels.Start();
        byte first = options.Stdout ? ChannelNumbers.Stdout : options.Stderr ? ChannelNumbers.Stderr : ChannelNumbers.Error;
        try
        {
            await channels.SendAsync(first, ReadOnlyMemory<byte>.Empty, CancellationToken.None);
        }
        catch (IOException)
        {
            // Gone at once: the session ends when it notices.
        }
        var session = new WebSocketRemoteCommandChannels
        {
            Protocol = protocol,
            Channels = channels,
            Stdin = options.Stdin ? channels.Channel(ChannelNumbers.Stdin) : null,
            Stdout = options.Stdout ? channels.Channel(ChannelNumbers.Stdout) : null,
            Stderr = options.Stderr ? channels.Channel(ChannelNumbers.Stderr) : null,
            Resize = options.Tty ? channels.Channel(ChannelNumbers.Resize) : null,
        };
        channels.IdleNoticeAsync = () => session.EndAsync(ExecStatus.IdleClosed(idleTimeout));
        return session;
    }

    /// <summary>An error answer in Go's http.Error form: text/plain, the message and a newline.</summary>
    public static async Task RefuseAsync(HttpContext context, int status, string message)
    {
        byte[] body = System.Text.Encoding.UTF8.GetBytes(message + "\n");
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.ContentLength = body.Length;
        context.Response.Headers["X-Content-Type-Options"] = "nosniff";
        await context.Response.Body.WriteAsync(body);
    }

    /// <summary>A list as Go's %v prints a []string.</summary>
    private static string GoList(IEnumerable<string> values) => $"[{string.Join(' ', values)}]";
}
