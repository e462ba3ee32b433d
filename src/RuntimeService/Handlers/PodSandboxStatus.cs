using Berth.Core.Cri;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.PodSandboxStatusResponse> PodSandboxStatus(Cri.PodSandboxStatusRequest request, ServerCallContext context)
    {
        var sandbox = registry.RequireSandbox(request.PodSandboxId);
        var response = new Cri.PodSandboxStatusResponse { Status = Pods.CriStatus.Of(sandbox), Timestamp = Pods.Identifiers.NowNanoseconds() };
        if (request.Verbose)
        {
            response.Info.Add("info", VerboseJson.Object(writer =>
            {
                writer.WriteNumber("pid", sandbox.ReaperPid);
                writer.WriteString("bundle", sandbox.Shim.Bundle);
                writer.WriteString("namespaces", sandbox.Files.NamespaceDir);
                writer.WriteString("cgroupPath", sandbox.ReaperCgroup);
                if (sandbox.Network is { } attached)
                {
                    writer.WriteString("network", attached.NetworkName);
                    writer.WritePropertyName("cniResult");
                    writer.WriteRawValue(attached.Result);
                }
                if (sandbox.NotReadyReason is { } reason)
                {
                    writer.WriteString("notReadyReason", reason);
                }
            }));
        }
        return Task.FromResult(response);
    }
}
