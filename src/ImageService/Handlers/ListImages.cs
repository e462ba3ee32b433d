using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.ImageService.Handlers;

public sealed partial class CriImageService
{
    public override Task<Cri.ListImagesResponse> ListImages(Cri.ListImagesRequest request, ServerCallContext context)
    {
        var response = new Cri.ListImagesResponse();
        var filter = request.Filter?.Image?.Image;
        if (string.IsNullOrEmpty(filter))
        {
            response.Images.AddRange(images.List().Select(ToCri));
        }
        else if (images.Find(filter) is { } match)
        {
            response.Images.Add(ToCri(match));
        }
        return Task.FromResult(response);
    }
}
