using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>kubelet renames the log file to rotate it, then asks for a new one at the same path.</summary>
    public override async Task<Cri.ReopenContainerLogResponse> ReopenContainerLog(Cri.ReopenContainerLogRequest request, ServerCallContext context)
    {
        await containers.ReopenLogAsync(registry.RequireContainer(request.ContainerId), context.CancellationToken);
        return new Cri.ReopenContainerLogResponse();
    }
}
