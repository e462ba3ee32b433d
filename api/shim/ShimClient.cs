using System.Net.Sockets;
using Google.Protobuf;

namespace Berth.Api.Shim;

/// <summary>A request the shim refused or failed; <see cref="Code"/> says which kind.</summary>
public class ShimException : Exception
{
    public ShimException(ErrorCode code, string message)
        : base(message)
    {
        Code = code;
    }

    public ShimException(ErrorCode code, string message, Exception inner)
        : base(message, inner)
    {
        Code = code;
    }

    public ErrorCode Code { get; }
}

/// <summary>The shim could not be reached, or the connection broke or timed out: the shim may be gone.</summary>
public sealed class ShimUnavailableException : ShimException
{
    public ShimUnavailableException(string message, Exception? inner = null)
        : base(ErrorCode.Internal, message, inner ?? new IOException(message))
    {
    }
}

/// <summary>
/// One connection to a shim's control socket. Calls are serialized (one request in flight); a call
/// that times out or breaks the connection disposes it, and later calls throw
/// <see cref="ShimUnavailableException"/>: connect again. <see cref="WaitAsync"/> holds the
/// connection until the process exits, so give it a connection of its own.
/// </summary>
public sealed class ShimClient : IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Create mounts the rootfs and starts the init stage; allow for a slow disk.</summary>
    public static readonly TimeSpan CreateTimeout = TimeSpan.FromSeconds(60);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _broken;

    private ShimClient(string socketPath, Socket socket)
    {
        SocketPath = socketPath;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public string SocketPath { get; }

    /// <summary>
    /// Connects, retrying while the socket does not exist yet or refuses (a shim just started
    /// binds it within milliseconds) until <paramref name="timeout"/>.
    /// </summary>
    public static async Task<ShimClient> ConnectAsync(string socketPath, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        var endpoint = new UnixDomainSocketEndPoint(socketPath);
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
                return new ShimClient(socketPath, socket);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused
                or SocketError.TryAgain or SocketError.NoBufferSpaceAvailable)
            {
                socket.Dispose();
                if (DateTime.UtcNow >= deadline)
                {
                    throw new ShimUnavailableException($"shim socket {socketPath}: {e.Message}", e);
                }
                // Every create waits here for a new shim (10 to 50 ms of start-up): a short poll keeps the
                // time lost after it binds small; a failed connect costs microseconds.
                await Task.Delay(2, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                socket.Dispose();
                throw new ShimUnavailableException($"shim socket {socketPath}: {e.Message}", e);
            }
        }
    }

    /// <summary>Sends a request and returns the response; throws <see cref="ShimException"/> when it carries an error.</summary>
    public async Task<Response> CallAsync(Request request, TimeSpan? timeout, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_broken)
            {
                throw new ShimUnavailableException($"connection to {SocketPath} is closed");
            }
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (timeout is { } t && t != Timeout.InfiniteTimeSpan)
            {
                linked.CancelAfter(t);
            }
            Response? response;
            try
            {
                await ShimFraming.WriteAsync(_stream, request, linked.Token).ConfigureAwait(false);
                response = await ShimFraming.ReadAsync(_stream, Response.Parser, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                Break();
                throw new ShimUnavailableException($"shim {SocketPath} did not answer {request.KindCase} within {timeout}");
            }
            catch (OperationCanceledException)
            {
                Break();
                throw;
            }
            catch (Exception e) when (e is IOException or SocketException or InvalidDataException or InvalidProtocolBufferException or ObjectDisposedException)
            {
                Break();
                throw new ShimUnavailableException($"shim {SocketPath}: {request.KindCase}: {e.Message}", e);
            }
            if (response is null)
            {
                Break();
                throw new ShimUnavailableException($"shim {SocketPath} closed the connection during {request.KindCase}");
            }
            if (response.Code != ErrorCode.None)
            {
                throw new ShimException(response.Code, response.Error);
            }
            return response;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<StateResponse> CreateAsync(CancellationToken cancellationToken = default) =>
        (await CallAsync(new Request { Create = new CreateRequest() }, CreateTimeout, cancellationToken).ConfigureAwait(false)).State;

    public async Task<StateResponse> StartAsync(CancellationToken cancellationToken = default) =>
        (await CallAsync(new Request { Start = new StartRequest() }, DefaultTimeout, cancellationToken).ConfigureAwait(false)).State;

    public async Task<StateResponse> StateAsync(CancellationToken cancellationToken = default) =>
        (await CallAsync(new Request { State = new StateRequest() }, DefaultTimeout, cancellationToken).ConfigureAwait(false)).State;

    /// <summary>Answers once the process has exited (no timeout: cancel to give up, which closes this connection).</summary>
    public async Task<StateResponse> WaitAsync(CancellationToken cancellationToken = default) =>
        (await CallAsync(new Request { Wait = new WaitRequest() }, null, cancellationToken).ConfigureAwait(false)).State;

    public Task KillAsync(int signal, bool all = false, CancellationToken cancellationToken = default) =>
        CallAsync(new Request { Kill = new KillRequest { Signal = (uint)signal, All = all } }, DefaultTimeout, cancellationToken);

    /// <summary>Runs a command in the container; the call's own timeout is the command's plus a margin.</summary>
    public async Task<ExecSyncResponse> ExecSyncAsync(ExecSyncRequest request, CancellationToken cancellationToken = default)
    {
        TimeSpan? timeout = request.TimeoutMs > 0 ? TimeSpan.FromMilliseconds(request.TimeoutMs) + DefaultTimeout : null;
        return (await CallAsync(new Request { ExecSync = request }, timeout, cancellationToken).ConfigureAwait(false)).ExecSync;
    }

    public Task UpdateResourcesAsync(LinuxResources resources, CancellationToken cancellationToken = default) =>
        CallAsync(new Request { UpdateResources = new UpdateResourcesRequest { ResourcesJson = ByteString.CopyFrom(OciJson.Serialize(resources)) } },
            DefaultTimeout, cancellationToken);

    /// <summary>Freezes (<paramref name="frozen"/> true) or thaws every process of the container's cgroup, answered once the state settled.</summary>
    /// <exception cref="ShimException">FAILED_PRECONDITION: no cgroup, no freezer, or the state did not settle (the cgroup is then thawed).</exception>
    public Task FreezeAsync(bool frozen, CancellationToken cancellationToken = default) =>
        CallAsync(new Request { Freeze = new FreezeRequest { Frozen = frozen } }, DefaultTimeout, cancellationToken);

    public Task ReopenLogAsync(CancellationToken cancellationToken = default) =>
        CallAsync(new Request { ReopenLog = new ReopenLogRequest() }, DefaultTimeout, cancellationToken);

    /// <summary>
    /// Starts a streaming exec or an attachment (a <see cref="Request"/> holding <see cref="ExecRequest"/> or
    /// <see cref="AttachRequest"/>) on this connection, which then belongs to the returned session: the
    /// answer's descriptors (SCM_RIGHTS) are the session's until it hands them out.
    /// </summary>
    /// <exception cref="ShimException">The shim refused or could not start it.</exception>
    public async Task<ShimSession> OpenSessionAsync(Request request, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        int[] descriptors = [];
        try
        {
            if (_broken)
            {
                throw new ShimUnavailableException($"connection to {SocketPath} is closed");
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(DefaultTimeout);
            Response response;
            try
            {
                await ShimFraming.WriteAsync(_stream, request, timeout.Token).ConfigureAwait(false);
                (response, descriptors) = await ReceiveWithDescriptorsAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or InvalidDataException or InvalidProtocolBufferException
                or ObjectDisposedException or OperationCanceledException)
            {
                Break();
                if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                throw new ShimUnavailableException($"shim {SocketPath}: {request.KindCase}: {e.Message}", e);
            }
            if (response.Code != ErrorCode.None)
            {
                throw new ShimException(response.Code, response.Error);
            }
            var session = new ShimSession(this, response, descriptors);
            descriptors = [];
            return session;
        }
        finally
        {
            foreach (int fd in descriptors)
            {
                Interop.Sys.Close(fd);
            }
            _gate.Release();
        }
    }

    /// <summary>The next frame the shim sends on this connection without being asked (a session's end).</summary>
    internal async Task<Response> ReadUnaskedAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await ShimFraming.ReadAsync(_stream, Response.Parser, cancellationToken).ConfigureAwait(false)
                ?? throw new ShimUnavailableException($"shim {SocketPath} closed the session's connection");
        }
        catch (Exception e) when (e is IOException or SocketException or InvalidDataException or InvalidProtocolBufferException or ObjectDisposedException)
        {
            Break();
            throw new ShimUnavailableException($"shim {SocketPath}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Reads one response frame whose first bytes carry descriptors: recvmsg(2) on the socket once it is
    /// readable, then plain reads for what of the frame is left.
    /// </summary>
    private async Task<(Response Response, int[] Descriptors)> ReceiveWithDescriptorsAsync(CancellationToken cancellationToken)
    {
        byte[] first = new byte[4096];
        int[] descriptors = new int[Interop.Sys.MaxRights];
        int count;
        int n;
        while (true)
        {
            // A zero-byte receive completes when the socket has something to read.
            await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            n = Interop.Sys.ReceiveWithRights((int)_socket.Handle, first, descriptors, out count);
            if (n >= 0)
            {
                break;
            }
        }
        int[] owned = descriptors[..count];
        try
        {
            if (n == 0)
            {
                throw new EndOfStreamException($"shim {SocketPath} closed the connection");
            }
            if (n < ShimFraming.HeaderLength)
            {
                await _stream.ReadExactlyAsync(first.AsMemory(n, ShimFraming.HeaderLength - n), cancellationToken).ConfigureAwait(false);
                n = ShimFraming.HeaderLength;
            }
            int length = ShimFraming.ReadHeader(first);
            byte[] frame = new byte[ShimFraming.HeaderLength + length];
            int have = Math.Min(n, frame.Length);
            first.AsSpan(0, have).CopyTo(frame);
            await _stream.ReadExactlyAsync(frame.AsMemory(have), cancellationToken).ConfigureAwait(false);
            return (Response.Parser.ParseFrom(frame, ShimFraming.HeaderLength, length), owned);
        }
        catch
        {
            foreach (int fd in owned)
            {
                Interop.Sys.Close(fd);
            }
            throw;
        }
    }

    /// <summary>Kills what is left, cleans up and makes the shim exit; the exit file stays.</summary>
    public Task ShutdownAsync(CancellationToken cancellationToken = default) =>
        CallAsync(new Request { Shutdown = new ShutdownRequest() }, TimeSpan.FromSeconds(30), cancellationToken);

    private void Break()
    {
        _broken = true;
        _stream.Dispose();
    }

    public void Dispose()
    {
        _broken = true;
        _stream.Dispose();
        _gate.Dispose();
    }
}

/// <summary>
/// A streaming exec or an attachment, on a control connection of its own (<see cref="ShimClient.OpenSessionAsync"/>):
/// the shim's first answer, the descriptors it handed over (each taken once, by <see cref="Take"/>), and
/// the connection, whose closing tells the shim the session is over (an exec is killed, an attacher detached).
/// </summary>
public sealed class ShimSession : IDisposable
{
    private readonly ShimClient _client;
    private readonly int[] _descriptors;
    private readonly List<StdioStream> _kinds;

    internal ShimSession(ShimClient client, Response started, int[] descriptors)
    {
        _client = client;
        Started = started;
        _descriptors = descriptors;
        _kinds = [.. started.ResultCase switch
        {
            Response.ResultOneofCase.ExecStarted => started.ExecStarted.Descriptors,
            Response.ResultOneofCase.Attached => started.Attached.Descriptors,
            _ => [],
        }];
        if (_kinds.Count != descriptors.Length)
        {
            Dispose();
            throw new ShimException(ErrorCode.Internal, $"the shim listed {_kinds.Count} descriptors and sent {descriptors.Length}");
        }
    }

    /// <summary>ExecStarted or Attached.</summary>
    public Response Started { get; }

    /// <summary>The descriptor of <paramref name="kind"/>, now the caller's to close; -1 when the shim sent none (or it was taken).</summary>
    public int Take(StdioStream kind)
    {
        int index = _kinds.IndexOf(kind);
        if (index < 0 || _descriptors[index] < 0)
        {
            return -1;
        }
        int fd = _descriptors[index];
        _descriptors[index] = -1;
        return fd;
    }

    /// <summary>The shim's next message on the session: for an exec, ExecExited (or an EXEC_FAILED error) when it ends.</summary>
    /// <exception cref="ShimException">The shim's error; <see cref="ShimUnavailableException"/> when the connection broke.</exception>
    public async Task<Response> NextAsync(CancellationToken cancellationToken = default)
    {
        Response response = await _client.ReadUnaskedAsync(cancellationToken).ConfigureAwait(false);
        return response.Code == ErrorCode.None ? response : throw new ShimException(response.Code, response.Error);
    }

    /// <summary>An attacher's stdin ended (the shim closes the container's stdin when it has stdin_once).</summary>
    public Task CloseStdinAsync(CancellationToken cancellationToken = default) =>
        _client.CallAsync(new Request { CloseStdin = new CloseStdinRequest() }, ShimClient.DefaultTimeout, cancellationToken);

    /// <summary>Ends the session (closes the connection) and closes the descriptors nobody took.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _descriptors.Length; i++)
        {
            Interop.Sys.Close(_descriptors[i]);
            _descriptors[i] = -1;
        }
        _client.Dispose();
    }
}
