using Berth.RuntimeService.Configuration;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>
    /// Truthful conditions: the runtime runs pods and containers, but it does not call CNI yet, so a
    /// pod gets a network namespace with loopback only; kubelet must not count on pod networking. The
    /// features kubelet checks before it admits a pod: recursive read-only mounts (mount_setattr, which
    /// the shim needs anyway: Linux 5.12), the Strict supplemental groups policy; no user namespaces.
    /// </summary>
    public override Task<Cri.StatusResponse> Status(Cri.StatusRequest request, ServerCallContext context)
    {
        var status = new Cri.RuntimeStatus();
        status.Conditions.Add(new Cri.RuntimeCondition
        {
            Type = "RuntimeReady",
            Status = true,
        });
        status.Conditions.Add(new Cri.RuntimeCondition
        {
            Type = "NetworkReady",
            Status = false,
            Reason = "NetworkPluginNotReady",
            Message = "this berth build does not call CNI yet: pods get a network namespace with loopback only",
        });
        var response = new Cri.StatusResponse
        {
            Status = status,
            // kubelet admits a pod that needs one of these only when the runtime says it has it.
            Features = new Cri.RuntimeFeatures { SupplementalGroupsPolicy = true },
        };
        // Every handler name runs the same runtime; the default one (named "") stands for them all.
        response.RuntimeHandlers.Add(new Cri.RuntimeHandler
        {
            Name = "",
            Features = new Cri.RuntimeHandlerFeatures { RecursiveReadOnlyMounts = true, UserNamespaces = false },
        });
        if (request.Verbose)
        {
            response.Info.Add("config", ConfigLoader.Serialize(config));
            response.Info.Add("version", RuntimeVersion);
        }
        return Task.FromResult(response);
    }
}
