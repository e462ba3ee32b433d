using Berth.Core.Errors;
using Grpc.Core;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

public sealed partial class AdminImageService
{
    /// <summary>Unlike CRI's RemoveImage (which kubelet retries), an image that is not there is NOT_FOUND, as docker rmi says.</summary>
    public override async Task<AdminApi.RemoveResponse> Remove(AdminApi.RemoveRequest request, ServerCallContext context)
    {
        var removal = await images.RemoveAsync(Require(request.Image, "image"), context.CancellationToken)
            ?? throw BerthException.NotFound($"no image {request.Image} on this node");
        var response = new AdminApi.RemoveResponse { ImageId = removal.ImageId, Deleted = removal.Deleted };
        response.Untagged.AddRange(removal.Untagged);
        return response;
    }
}
