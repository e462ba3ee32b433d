using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Berth.Api.Streaming.Channels;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Api.Streaming.Spdy;
using Berth.RuntimeService.Node;
using Berth.RuntimeService.Pods;

namespace Berth.RuntimeService.Streaming;

/// <summary>
/// Port forwarding into a pod (kubelet's streaming portforward package over containerd's portForward):
/// each forwarded connection is a TCP connection to the port on the pod's loopback, made from a socket
/// created inside the pod's network namespace, and copied both ways until either side ends. Over SPDY a
/// client opens an error and a data stream per connection, paired by their requestID header; over
/// WebSocket each port of the request has a data and an error channel for the session's life.
/// </summary>
public sealed class PortForwardSessions(INodeOperations node, ILogger<PortForwardSessions> logger)
{
    /// <summary>How long one connect to the pod's port may take (containerd's dialTimeout).</summary>
    public static readonly TimeSpan DialTimeout = TimeSpan.FromSeconds(5);

    /// <summary>After one direction of a forwarded connection ends, how long the other may go on (containerd: 1 s).</summary>
    public static readonly TimeSpan HalfCloseGrace = TimeSpan.FromSeconds(1);

    /// <summary>Serves the streams of a SPDY port-forward connection until the client closes it.</summary>
    public async Task ServeSpdyAsync(Sandbox sandbox, SpdyConnection connection)
    {
        var pairs = new ConcurrentDictionary<string, StreamPair>(StringComparer.Ordinal);
        var forwards = new List<Task>();
        await using (connection)
        {
            try
            {
                await foreach (SpdyStream stream in connection.IncomingStreams.ReadAllAsync(connection.Closed))
                {
                    if (Refusal(stream) is { } why)
                    {
                        logger.LogInformation("Port forward to pod {Id}: stream {Stream} refused: {Why}", sandbox.Id, stream.Id, why);
                        await stream.ResetAsync();
                        continue;
                    }
                    await stream.AcceptAsync();
                    string type = stream.Header(StreamTypes.Header)!;
                    // Clients before requestID paired streams by id: error n, data n + 2 (kubelet's requestID fallback).
                    string requestId = stream.Header(StreamTypes.RequestIdHeader)
                        ?? (type == StreamTypes.Error ? stream.Id : stream.Id - 2).ToString(CultureInfo.InvariantCulture);
                    StreamPair pair = pairs.GetOrAdd(requestId, id => new StreamPair(id));
                    if (pair.Add(type, stream) is { } problem)
                    {
                        await pair.ReportAsync($"error processing stream for request {requestId}: {problem}");
                        continue;
                    }
                    if (pair.Complete)
                    {
                        pairs.TryRemove(requestId, out _);
                        forwards.Add(ForwardPairAsync(sandbox, pair, connection.Closed));
                    }
                    else if (pair.Started())
                    {
                        forwards.Add(ExpireAsync(pair, pairs, connection.Closed));
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            await Task.WhenAll(forwards);
        }
    }

    /// <summary>Serves a WebSocket port-forward session: one forwarded connection per port, for the session's life.</summary>
    public async Task ServeWebSocketAsync(Sandbox sandbox, WebSocket socket, string protocol, IReadOnlyList<int> ports, TimeSpan idleTimeout)
    {
        var readable = Enumerable.Range(0, ports.Count).Select(i => (byte)(2 * i));
        var channels = new WebSocketChannels(socket, protocol, readable, idleTimeout);
        channels.Start();
        await using (channels)
        {
            var forwards = new List<Task>();
            for (int i = 0; i < ports.Count; i++)
            {
                byte data = (byte)(2 * i);
                byte error = (byte)(2 * i + 1);
                // Each channel first carries its port, as an unsigned 16-bit little-endian integer.
                byte[] port = new byte[2];
                BinaryPrimitives.WriteUInt16LittleEndian(port, (ushort)ports[i]);
                try
                {
                    await channels.SendAsync(data, port, CancellationToken.None);
                    await channels.SendAsync(error, port, CancellationToken.None);
                }
                catch (IOException)
                {
                    return;
                }
                forwards.Add(ForwardAsync(sandbox, ports[i], channels.Channel(data), channels.Channel(error), closeData: null, channels.Closed));
            }
            await Task.WhenAll(forwards);
            await channels.CloseAsync(RemoteCommandChannels.FinishDrain);
        }
    }

    /// <summary>Why a port-forward stream is refused (kubelet's httpStreamReceived), or null.</summary>
    private static string? Refusal(SpdyStream stream)
    {
        string? port = stream.Header(StreamTypes.PortHeader);
        if (string.IsNullOrEmpty(port))
        {
            return "\"port\" header is required";
        }
        if (!ushort.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out ushort number) || number < 1)
        {
            return $"unable to parse \"{port}\" as a port between 1 and 65535";
        }
        return stream.Header(StreamTypes.Header) switch
        {
            null or "" => "\"streamType\" header is required",
            StreamTypes.Error or StreamTypes.Data => null,
            var other => $"invalid stream type \"{other}\"",
        };
    }

    /// <summary>A pair still missing a stream after the creation timeout is told so and dropped.</summary>
    private static async Task ExpireAsync(StreamPair pair, ConcurrentDictionary<string, StreamPair> pairs, CancellationToken closed)
    {
        try
        {
            await Task.Delay(StreamingUpgrade.StreamCreationTimeout, closed);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (!pair.Complete && pairs.TryRemove(new KeyValuePair<string, StreamPair>(pair.RequestId, pair)))
        {
            await pair.ReportAsync($"timed out waiting for streams of request {pair.RequestId}");
            await pair.CloseAsync();
        }
    }

    private async Task ForwardPairAsync(Sandbox sandbox, StreamPair pair, CancellationToken closed)
    {
        int port = int.Parse(pair.Data!.Header(StreamTypes.PortHeader)!, CultureInfo.InvariantCulture);
        pair.Error!.DiscardInbound();
        await ForwardAsync(sandbox, port, pair.Data, pair.Error, closeData: pair.Data.CloseWriteAsync, closed);
        await pair.CloseAsync();
    }

    /// <summary>
    /// One forwarded connection: connect to the port in the pod, then copy both ways; a failure is written on
    /// the error stream in kubelet's words ("error forwarding port P to pod ID, uid : why").
    /// </summary>
    private async Task ForwardAsync(Sandbox sandbox, int port, Stream data, Stream error, Func<CancellationToken, Task>? closeData, CancellationToken closed)
    {
        Socket target;
        try
        {
            target = await ConnectAsync(sandbox, port, closed);
        }
        catch (Exception failure) when (failure is SocketException or IOException or OperationCanceledException or Core.Errors.BerthException)
        {
            logger.LogInformation("Port forward to pod {Id} port {Port} failed: {Error}", sandbox.Id, port, failure.Message);
            try
            {
                await error.WriteAsync(Encoding.UTF8.GetBytes($"error forwarding port {port} to pod {sandbox.Id}, uid : {failure.Message}"), CancellationToken.None);
            }
            catch (IOException)
            {
            }
            return;
        }
        using (target)
        await using (var network = new NetworkStream(target, ownsSocket: false))
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(closed);
            Task toPod = CopyAsync(data, network, () => { TryShutdown(target); return Task.CompletedTask; }, stop.Token);
            Task fromPod = CopyAsync(network, data, () => closeData?.Invoke(CancellationToken.None) ?? Task.CompletedTask, stop.Token);
            await Task.WhenAny(toPod, fromPod);
            try
            {
                await Task.WhenAll(toPod, fromPod).WaitAsync(HalfCloseGrace);
            }
            catch (TimeoutException)
            {
            }
            stop.Cancel();
            await Task.WhenAll(toPod, fromPod);
        }
    }

    /// <summary>
    /// Connects to the port on the pod's loopback: IPv4 first, then IPv6 (containerd's dialLocalhost, which
    /// dials serially so that both sockets stay in the pod's namespace).
    /// </summary>
    private async Task<Socket> ConnectAsync(Sandbox sandbox, int port, CancellationToken closed)
    {
        if (!sandbox.Ready)
        {
            throw new IOException($"the pod sandbox is not ready: {sandbox.NotReadyReason}");
        }
        string? failureV4 = null;
        foreach (var (family, address) in new[] { (AddressFamily.InterNetwork, IPAddress.Loopback), (AddressFamily.InterNetworkV6, IPAddress.IPv6Loopback) })
        {
            Socket socket = node.CreateTcpSocket(sandbox.NetworkNamespace, family);
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(closed);
                timeout.CancelAfter(DialTimeout);
                await socket.ConnectAsync(new IPEndPoint(address, port), timeout.Token);
                return socket;
            }
            catch (Exception error) when (error is SocketException or OperationCanceledException)
            {
                socket.Dispose();
                closed.ThrowIfCancellationRequested();
                string why = error is OperationCanceledException ? $"connect to {address} port {port}: timed out" : $"connect to {address} port {port}: {error.Message}";
                if (failureV4 is not null)
                {
                    throw new IOException($"IPv4: {failureV4} IPv6: {why}");
                }
                failureV4 = why;
            }
        }
        throw new IOException(failureV4);
    }

    private static async Task CopyAsync(Stream from, Stream to, Func<Task> ended, CancellationToken stop)
    {
        try
        {
            await from.CopyToAsync(to, 32 * 1024, stop);
            await ended();
        }
        catch (Exception error) when (error is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private static void TryShutdown(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>The error and data streams of one forwarded connection.</summary>
    private sealed class StreamPair(string requestId)
    {
        private readonly object _gate = new();
        private bool _started;

        public string RequestId { get; } = requestId;
        public SpdyStream? Error { get; private set; }
        public SpdyStream? Data { get; private set; }

        public bool Complete
        {
            get
            {
                lock (_gate)
                {
                    return Error is not null && Data is not null;
                }
            }
        }

        /// <summary>True the first time it is asked: the pair's expiry is watched once.</summary>
        public bool Started()
        {
            lock (_gate)
            {
                bool first = !_started;
                _started = true;
                return first;
            }
        }

        /// <summary>Adds a stream; the problem when its kind is assigned already.</summary>
        public string? Add(string type, SpdyStream stream)
        {
            lock (_gate)
            {
                if (type == StreamTypes.Error)
                {
                    if (Error is not null)
                    {
                        return "error stream already assigned";
                    }
                    Error = stream;
                }
                else
                {
                    if (Data is not null)
                    {
                        return "data stream already assigned";
                    }
                    Data = stream;
                }
                return null;
            }
        }

        public async Task ReportAsync(string message)
        {
            if (Error is { } error)
            {
                try
                {
                    await error.WriteAsync(Encoding.UTF8.GetBytes(message));
                }
                catch (IOException)
                {
                }
            }
        }

        public async Task CloseAsync()
        {
            if (Data is { } data)
            {
                await data.CloseWriteAsync();
            }
            if (Error is { } error)
            {
                await error.CloseWriteAsync();
            }
        }
    }
}
