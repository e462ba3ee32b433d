using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>kubelet sends the node's pod CIDR here at start; it matters only to CNI plugins that ask for it, so it is logged.</summary>
    public override Task<Cri.UpdateRuntimeConfigResponse> UpdateRuntimeConfig(Cri.UpdateRuntimeConfigRequest request, ServerCallContext context)
    {
        logger.LogInformation("kubelet reports pod CIDR {PodCidr}", request.RuntimeConfig?.NetworkConfig?.PodCidr ?? "");
        return Task.FromResult(new Cri.UpdateRuntimeConfigResponse());
    }
}
