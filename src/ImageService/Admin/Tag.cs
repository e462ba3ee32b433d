using Grpc.Core;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

public sealed partial class AdminImageService
{
    public override async Task<AdminApi.TagResponse> Tag(AdminApi.TagRequest request, ServerCallContext context)
    {
        var name = await images.TagAsync(Require(request.Source, "source"), Require(request.Target, "target"), context.CancellationToken);
        return new AdminApi.TagResponse { ImageId = name.ImageId, Name = name.Name };
    }
}
