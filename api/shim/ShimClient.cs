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
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
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

    public Task ReopenLogAsync(CancellationToken cancellationToken = default) =>
        CallAsync(new Request { ReopenLog = new ReopenLogRequest() }, DefaultTimeout, cancellationToken);

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
