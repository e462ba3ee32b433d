using Berth.Core.Cri;
using Berth.RuntimeService.Configuration;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>
    /// RuntimeReady, and NetworkReady as the pod network stands now (read again at every call, so it follows
    /// changes to the CNI conf dir): false, with the reason, while no usable configuration and plugins exist.
    /// The features kubelet checks before it admits a pod: recursive read-only mounts (mount_setattr, which
    /// the shim needs anyway: Linux 5.12), the Strict supplemental groups policy; no user namespaces.
    /// </summary>
    public override async Task<Cri.StatusResponse> Status(Cri.StatusRequest request, ServerCallContext context)
    {
        var networkCondition = await network.ReadinessAsync(context.CancellationToken);
        var status = new Cri.RuntimeStatus();
        status.Conditions.Add(new Cri.RuntimeCondition
        {
            Type = "RuntimeReady",
            Status = true,
        });
        status.Conditions.Add(new Cri.RuntimeCondition
        {
            Type = "NetworkReady",
            Status = networkCondition.Ready,
            Reason = networkCondition.Reason,
            Message = networkCondition.Message,
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
            // The configuration in force: a reload's changes included, keys that need a restart at their running values.
            response.Info.Add("config", ConfigLoader.Serialize(configuration.Current));
            response.Info.Add("version", RuntimeVersion);
            response.Info.Add("cni", VerboseJson.Object(writer =>
            {
                foreach (var (key, value) in network.Describe())
                {
                    writer.WriteString(key, value);
                }
            }));
        }
        return response;
    }
}
