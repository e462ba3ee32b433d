using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.ImageService.Handlers;

public sealed partial class CriImageService
{
    /// <summary>Removing an image that is not there succeeds: kubelet retries removals.</summary>
    public override async Task<Cri.RemoveImageResponse> RemoveImage(Cri.RemoveImageRequest request, ServerCallContext context)
    {
        await images.RemoveAsync(RequireImageName(request.Image), context.CancellationToken);
        return new Cri.RemoveImageResponse();
    }
}
