using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Specs;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Pods;

/// <summary>
/// The CRI status of a sandbox or container as it is now: what PodSandboxStatus and ContainerStatus
/// answer, and what every container event carries (kubelet's evented PLEG caches it as the pod's status).
/// </summary>
public static class CriStatus
{
    public static Cri.ContainerStatus Of(Container container)
    {
        var state = container.State;
        var status = new Cri.ContainerStatus
        {
            Id = container.Id,
            Metadata = container.Config.Metadata,
            State = container.CriState,
            CreatedAt = container.Record.CreatedAt,
            StartedAt = state.StartedAt,
            FinishedAt = state.FinishedAt,
            ExitCode = state.ExitCode,
            Image = new Cri.ImageSpec { Image = container.Record.ImageName },
            ImageRef = container.Record.ImageRef.Length > 0 ? container.Record.ImageRef : container.Record.ImageId,
            ImageId = container.Record.ImageId,
            Reason = state.Reason,
            Message = state.Message,
            LogPath = container.Record.LogPath,
            StopSignal = StopSignals.ToCri(container.Record.StopSignal),
        };
        if (state.User is { } user)
        {
            // The identity the kernel gave the container's first process (read by its shim), as kubelet's pod status shows it.
            var linux = new Cri.LinuxContainerUser { Uid = user.Uid, Gid = user.Gid };
            linux.SupplementalGroups.AddRange(user.Groups.Select(group => (long)group));
            status.User = new Cri.ContainerUser { Linux = linux };
        }
        status.Labels.Add(container.Config.Labels);
        status.Annotations.Add(container.Config.Annotations);
        status.Mounts.AddRange(container.Config.Mounts);
        status.Resources = new Cri.ContainerResources { Linux = container.Resources };
        return status;
    }

    public static Cri.PodSandboxStatus Of(Sandbox sandbox)
    {
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
        return status;
    }

    /// <summary>The pod's IPs from its CNI result (primary IPv4 first, then the others); empty on the host's network, as containerd reports it.</summary>
    private static Cri.PodSandboxNetworkStatus NetworkStatus(Sandbox sandbox)
    {
        var status = new Cri.PodSandboxNetworkStatus { Ip = sandbox.Network?.Ip ?? "" };
        foreach (string ip in sandbox.Network?.AdditionalIps ?? [])
        {
            status.AdditionalIps.Add(new Cri.PodIP { Ip = ip });
        }
        return status;
    }
}
