using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>
    /// kubelet sends the node's pod CIDR here: it is recorded (ipRanges for plugins that take them) and fills
    /// the CNI configuration template when one is set. An empty CIDR changes nothing.
    /// </summary>
    public override async Task<Cri.UpdateRuntimeConfigResponse> UpdateRuntimeConfig(Cri.UpdateRuntimeConfigRequest request, ServerCallContext context)
    {
        string podCidr = request.RuntimeConfig?.NetworkConfig?.PodCidr ?? "";
        if (podCidr.Length > 0)
        {
            await network.SetPodCidrAsync(podCidr, DaemonStopping);
            logger.LogInformation("kubelet reports pod CIDR {PodCidr}", podCidr);
        }
        return new Cri.UpdateRuntimeConfigResponse();
    }
}
