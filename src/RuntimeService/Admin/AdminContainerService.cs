using Berth.ImageService.Admin;
using Berth.RuntimeService.Containers;
using Grpc.Core;
using AdminApi = Berth.Api.Admin;

namespace Berth.RuntimeService.Admin;

/// <summary>
/// berth.admin.v1's Containers service (berthctl commit and export), thin over <see cref="ContainerFiles"/>; it lives in
/// berthd's runtime side because it needs the containers, and answers on the admin socket only, as the Images service.
/// </summary>
public sealed class AdminContainerService(ContainerFiles files) : AdminApi.Containers.ContainersBase
{
    public override async Task<AdminApi.CommitResponse> Commit(AdminApi.CommitRequest request, ServerCallContext context)
    {
        var committed = await files.CommitAsync(new ContainerCommit(
            request.Container,
            request.Reference,
            request.Message.Length == 0 ? null : request.Message,
            request.Author.Length == 0 ? null : request.Author,
            request.Changes,
            Pause: !request.HasPause || request.Pause), context.CancellationToken);
        var response = new AdminApi.CommitResponse { Image = AdminImageService.Summary(committed.Image) };
        response.Skipped.AddRange(committed.Skipped);
        return response;
    }

    public override async Task Export(AdminApi.ExportRequest request, IServerStreamWriter<AdminApi.ExportChunk> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var tar = await files.ExportAsync(request.Container, ct);
        try
        {
            await AdminImageService.SendFileAsync(tar, data => responseStream.WriteAsync(new AdminApi.ExportChunk { Data = data }, ct), ct);
        }
        finally
        {
            File.Delete(tar);
        }
    }
}
