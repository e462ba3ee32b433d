using Berth.Core.Cri;
using Berth.RuntimeService.Containers;
using Berth.ImageService.Handlers;
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
            ImageRef = ImageRef(container),
            ImageId = container.Record.ImageId,
            Reason = state.Reason,
            Message = state.Message,
            LogPath = container.Record.LogPath,
        };
        status.Labels.Add(container.Config.Labels);
        status.Annotations.Add(container.Config.Annotations);
        status.Mounts.AddRange(container.Config.Mounts);
        if (container.Config.Linux?.Resources is { } resources)
        {
            status.Resources = new Cri.ContainerResources { Linux = resources };
        }
        var response = new Cri.ContainerStatusResponse { Status = status };
        if (request.Verbose)
        {
            response.Info.Add("info", VerboseJson.Object(writer =>
            {
                writer.WriteNumber("pid", state.Pid);
                writer.WriteString("sandboxID", container.Record.SandboxId);
                writer.WriteString("bundle", container.Bundle);
                writer.WriteString("imageName", container.Record.ImageName);
            }));
        }
        return Task.FromResult(response);
    }

    /// <summary>The digest reference kubelet shows as imageID: repo@digest when the image still has one, else its ID.</summary>
    private string ImageRef(Container container) =>
        images.Find(container.Record.ImageId) is { } image && image.Names.FirstOrDefault() is { } name
            ? $"{ImageService.Images.ImageManager.RepositoryOf(name.Name)}@{name.RepoDigest}"
            : container.Record.ImageId;
}
