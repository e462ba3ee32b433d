using Berth.Core.Cri;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.ImageService.Handlers;

public sealed partial class CriImageService
{
    public override async Task StreamImages(Cri.StreamImagesRequest request, IServerStreamWriter<Cri.StreamImagesResponse> responseStream, ServerCallContext context)
    {
        var listed = await ListImages(new Cri.ListImagesRequest { Filter = request.Filter }, context);
        await ChunkedStream.WriteAsync(listed.Images, chunk => new Cri.StreamImagesResponse { Images = { chunk } }, responseStream, context.CancellationToken);
    }
}
