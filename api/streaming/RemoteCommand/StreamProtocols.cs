namespace Berth.Api.Streaming.RemoteCommand;

/// <summary>
/// The names Kubernetes' streaming protocols use (k8s.io/apimachinery util/remotecommand and
/// util/httpstream, k8s.io/api core/v1 types.go, client-go tools/remotecommand and portforward).
/// </summary>
public static class StreamProtocols
{
    /// <summary>The SPDY upgrade token (apimachinery httpstream/spdy HeaderSpdy31).</summary>
    public const string Spdy31 = "SPDY/3.1";

    /// <summary>The request header listing the protocols a client speaks, one per header or comma-separated; the response names the one chosen.</summary>
    public const string ProtocolHeader = "X-Stream-Protocol-Version";

    /// <summary>The response header listing what the server accepts, when nothing matched (403).</summary>
    public const string AcceptedProtocolsHeader = "X-Accepted-Stream-Protocol-Versions";

    /// <summary>Exec and attach, version 1: the error stream carries text; no resize; stdin is closed by the server at once.</summary>
    public const string V1 = "channel.k8s.io";

    /// <summary>Version 2: like v1, but stdin stays open.</summary>
    public const string V2 = "v2.channel.k8s.io";

    /// <summary>Version 3: adds the resize stream.</summary>
    public const string V3 = "v3.channel.k8s.io";

    /// <summary>Version 4: the error stream carries a metav1.Status as JSON, with the exit code (<see cref="ExecStatus"/>).</summary>
    public const string V4 = "v4.channel.k8s.io";

    /// <summary>Version 5 (WebSocket only): v4 plus a close signal, <c>[255, channel]</c>, that half-closes one channel (stdin).</summary>
    public const string V5 = "v5.channel.k8s.io";

    /// <summary>WebSocket: v1 with each message base64-encoded as text, its channel a digit.</summary>
    public const string Base64V1 = "base64.channel.k8s.io";

    /// <summary>WebSocket: v4 with base64 text messages.</summary>
    public const string Base64V4 = "v4.base64.channel.k8s.io";

    /// <summary>Port forwarding over SPDY (kubelet's portforward.ProtocolV1Name).</summary>
    public const string PortForward = "portforward.k8s.io";

    /// <summary>What exec and attach accept over SPDY, in the order kubelet's streaming server lists them.</summary>
    public static readonly string[] RemoteCommandSpdy = [V4, V3, V2, V1];

    /// <summary>What exec and attach accept over WebSocket: kubelet's list (with "" for no subprotocol) and v5.</summary>
    public static readonly string[] RemoteCommandWebSocket = [V5, V4, Base64V4, V1, Base64V1];

    /// <summary>What port-forward accepts over WebSocket (kubelet's portforward/websocket.go).</summary>
    public static readonly string[] PortForwardWebSocket = [V4, Base64V4];

    /// <summary>Whether the server writes a JSON status (v4, v5) rather than plain text on the error stream.</summary>
    public static bool WritesStatusJson(string protocol) => protocol is V4 or V5 or Base64V4;

    /// <summary>Whether the protocol has a resize stream or channel (v3 and later; every WebSocket protocol has the channel).</summary>
    public static bool SupportsResize(string protocol) => protocol is not (V1 or V2);

    /// <summary>Whether WebSocket messages are base64 text rather than binary.</summary>
    public static bool IsBase64(string protocol) => protocol is Base64V1 or Base64V4;

    /// <summary>
    /// The first of the client's protocols the server accepts (apimachinery httpstream.negotiateProtocol:
    /// the client's order wins); null when none is.
    /// </summary>
    public static string? Negotiate(IEnumerable<string> clientProtocols, IReadOnlyCollection<string> serverProtocols) =>
        clientProtocols.FirstOrDefault(serverProtocols.Contains);

    /// <summary>The values of repeated, comma-separated headers, trimmed, empty ones dropped (httpstream.commaSeparatedHeaderValues).</summary>
    public static IReadOnlyList<string> SplitHeaderValues(IEnumerable<string?> values) =>
        values.SelectMany(value => (value ?? "").Split(',')).Select(value => value.Trim(' ')).Where(value => value.Length > 0).ToArray();
}

/// <summary>The header that names a stream's role, and its values (k8s.io/api core/v1 StreamType*).</summary>
public static class StreamTypes
{
    /// <summary>The header name as it travels in a SPDY header block (lowercase); client-go sets "streamType".</summary>
    public const string Header = "streamtype";

    public const string Error = "error";
    public const string Stdin = "stdin";
    public const string Stdout = "stdout";
    public const string Stderr = "stderr";
    public const string Resize = "resize";

    /// <summary>Port forwarding: the stream carrying the forwarded bytes (its pair is an <see cref="Error"/> stream).</summary>
    public const string Data = "data";

    /// <summary>Port forwarding: the port header (core/v1 PortHeader, "port").</summary>
    public const string PortHeader = "port";

    /// <summary>Port forwarding: pairs a data stream with its error stream (core/v1 PortForwardRequestIDHeader, "requestID").</summary>
    public const string RequestIdHeader = "requestid";
}

/// <summary>The channel numbers of the WebSocket protocols (kubelet's remotecommand/websocket.go; util/remotecommand constants).</summary>
public static class ChannelNumbers
{
    public const byte Stdin = 0;
    public const byte Stdout = 1;
    public const byte Stderr = 2;
    public const byte Error = 3;
    public const byte Resize = 4;

    /// <summary>v5: a message <c>[255, channel]</c> closes that channel's sending side (remotecommand.StreamClose).</summary>
    public const byte CloseSignal = 255;
}
