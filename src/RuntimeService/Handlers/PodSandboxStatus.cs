using Berth.Core.Cri;
using Berth.ImageService.Handlers;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.PodSandboxStatusResponse> PodSandboxStatus(Cri.PodSandboxStatusRequest request, ServerCallContext context)
    {
        var sandbox = registry.RequireSandbox(request.PodSandboxId);
        var status = new Cri.PodSandboxStatus
        {
            Id = sandbox.Id,
            Metadata = sandbox.Config.Metadata,
            State = CriState(sandbox),
            CreatedAt = sandbox.Record.CreatedAt,
            // No CNI yet: the pod has a network namespace with loopback only, so no IP to report.
            Network = new Cri.PodSandboxNetworkStatus { Ip = "" },
            Linux = new Cri.LinuxPodSandboxStatus
            {
                Namespaces = new Cri.Namespace { Options = sandbox.Config.Linux?.SecurityContext?.NamespaceOptions ?? new Cri.NamespaceOption() },
            },
            RuntimeHandler = sandbox.Record.RuntimeHandler,
        };
        status.Labels.Add(sandbox.Config.Labels);
        status.Annotations.Add(sandbox.Config.Annotations);
        var response = new Cri.PodSandboxStatusResponse { Status = status, Timestamp = Pods.Identifiers.NowNanoseconds() };
        if (request.Verbose)
        {
            response.Info.Add("info", VerboseJson.Object(writer =>
            {
                writer.WriteNumber("pid", sandbox.ReaperPid);
                writer.WriteString("bundle", sandbox.Bundle);
                writer.WriteString("namespaces", sandbox.NamespaceDir);
                writer.WriteString("cgroupPath", sandbox.ReaperCgroupPath);
            }));
        }
        return Task.FromResult(response);
    }
}
