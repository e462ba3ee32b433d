using Berth.Api.Shim;
using Grpc.Core;
using ShimStatus = Berth.Api.Shim.Status;
using Status = Grpc.Core.Status;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>kubelet renames the log file to rotate it, then asks the shim to open a new one at the same path.</summary>
    public override async Task<Cri.ReopenContainerLogResponse> ReopenContainerLog(Cri.ReopenContainerLogRequest request, ServerCallContext context)
    {
        var container = registry.RequireContainer(request.ContainerId);
        if (container.State.Status != ShimStatus.Running || container.Shim is not { } shim)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"container {container.Id} is not running"));
        }
        await shim.ReopenLogAsync(context.CancellationToken);
        return new Cri.ReopenContainerLogResponse();
    }
}
