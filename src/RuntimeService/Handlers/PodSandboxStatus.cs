using Berth.Core.Cri;
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
            State = sandbox.CriState,
            CreatedAt = sandbox.Record.CreatedAt,
            Network = NetworkStatus(sandbox),
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

    /// <summary>The pod's IPs from its CNI result (primary IPv4 first, then the others); empty on the host's network, as containerd reports it.</summary>
    private static Cri.PodSandboxNetworkStatus NetworkStatus(Pods.Sandbox sandbox)
    {
        var status = new Cri.PodSandboxNetworkStatus { Ip = sandbox.Network?.Ip ?? "" };
        foreach (string ip in sandbox.Network?.AdditionalIps ?? [])
        {
            status.AdditionalIps.Add(new Cri.PodIP { Ip = ip });
        }
        return status;
    }
}
