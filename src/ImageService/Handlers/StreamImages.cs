using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.ImageService.Handlers;

public sealed partial class CriImageService
{
    // Keeps each message far below gRPC's 4 MiB default limit even with many tags per image.
    private const int StreamChunkSize = 256;

    public override async Task StreamImages(Cri.StreamImagesRequest request, IServerStreamWriter<Cri.StreamImagesResponse> responseStream, ServerCallContext context)
    {
        var listed = await ListImages(new Cri.ListImagesRequest { Filter = request.Filter }, context);
        foreach (var chunk in listed.Images.Chunk(StreamChunkSize))
        {
            var response = new Cri.StreamImagesResponse();
            response.Images.AddRange(chunk);
            await responseStream.WriteAsync(response, context.CancellationToken);
        }
    }
}
