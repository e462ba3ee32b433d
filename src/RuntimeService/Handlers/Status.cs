using Berth.RuntimeService.Configuration;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>
    /// Truthful conditions: this build serves images only, so the runtime cannot run containers yet and
    /// has no pod network; kubelet keeps the node NotReady instead of scheduling pods that would fail.
    /// </summary>
    public override Task<Cri.StatusResponse> Status(Cri.StatusRequest request, ServerCallContext context)
    {
        var status = new Cri.RuntimeStatus();
        status.Conditions.Add(new Cri.RuntimeCondition
        {
            Type = "RuntimeReady",
            Status = false,
            Reason = "ContainersNotSupported",
            Message = "this berth build serves the ImageService only; it cannot run pod sandboxes or containers yet",
        });
        status.Conditions.Add(new Cri.RuntimeCondition
        {
            Type = "NetworkReady",
            Status = false,
            Reason = "NetworkPluginNotReady",
            Message = "this berth build does not set up pod networks (CNI) yet",
        });
        var response = new Cri.StatusResponse { Status = status };
        if (request.Verbose)
        {
            response.Info.Add("config", ConfigLoader.Serialize(config));
            response.Info.Add("version", RuntimeVersion);
        }
        return Task.FromResult(response);
    }
}
