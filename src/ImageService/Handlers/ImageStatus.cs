using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.ImageService.Handlers;

public sealed partial class CriImageService
{
    /// <summary>An image that is not present is answered with an empty status, not an error, as kubelet expects.</summary>
    public override Task<Cri.ImageStatusResponse> ImageStatus(Cri.ImageStatusRequest request, ServerCallContext context)
    {
        var response = new Cri.ImageStatusResponse();
        if (images.Find(RequireImageName(request.Image)) is { } image)
        {
            response.Image = ToCri(image);
            if (request.Verbose)
            {
                response.Info.Add("info", VerboseInfo(image));
            }
        }
        return Task.FromResult(response);
    }
}
