using Berth.Api.Shim;
using Google.Protobuf;
using Grpc.Core;
using ShimStatus = Berth.Api.Shim.Status;
using Status = Grpc.Core.Status;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    // Output kept per stream; kubelet's probes read at most a few KiB of it.
    private const int ExecOutputLimit = 16 << 20;

    public override async Task<Cri.ExecSyncResponse> ExecSync(Cri.ExecSyncRequest request, ServerCallContext context)
    {
        var container = registry.RequireContainer(request.ContainerId);
        if (request.Cmd.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "cmd must name a command"));
        }
        if (container.State.Status != ShimStatus.Running || container.Shim is null)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"container {container.Id} is {container.CriState}, not running"));
        }
        var exec = new ExecSyncRequest { TimeoutMs = Math.Max(0, request.Timeout) * 1000, OutputLimit = ExecOutputLimit };
        exec.Args.AddRange(request.Cmd);
        ExecSyncResponse result;
        try
        {
            // A connection of its own: one control connection serves one call at a time, and an exec
            // may run for its whole timeout while kubelet stops or inspects the container.
            using var shim = await ShimClient.ConnectAsync(container.SocketPath, ShimClient.DefaultTimeout, context.CancellationToken);
            result = await shim.ExecSyncAsync(exec, context.CancellationToken);
        }
        catch (ShimException error) when (error.Code == ErrorCode.ExecFailed)
        {
            throw new RpcException(new Status(StatusCode.Unknown, $"exec in container {container.Id} failed: {error.Message}"));
        }
        if (result.TimedOut)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded,
                $"command {string.Join(' ', request.Cmd)} timed out after {request.Timeout} s and was killed"));
        }
        return new Cri.ExecSyncResponse
        {
            ExitCode = result.ExitCode,
            Stdout = ByteString.CopyFrom(result.Stdout.Span),
            Stderr = ByteString.CopyFrom(result.Stderr.Span),
        };
    }
}
