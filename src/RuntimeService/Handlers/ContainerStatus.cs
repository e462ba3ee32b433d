using Berth.Core.Cri;
using Berth.RuntimeService.Specs;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.ContainerStatusResponse> ContainerStatus(Cri.ContainerStatusRequest request, ServerCallContext context)
    {
        var container = registry.RequireContainer(request.ContainerId);
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
        var response = new Cri.ContainerStatusResponse { Status = status };
        if (request.Verbose)
        {
            response.Info.Add("info", VerboseJson.Object(writer =>
            {
                writer.WriteNumber("pid", state.Pid);
                writer.WriteString("sandboxID", container.Record.SandboxId);
                writer.WriteString("bundle", container.Shim.Bundle);
                writer.WriteString("imageName", container.Record.ImageName);
            }));
        }
        return Task.FromResult(response);
    }
}
