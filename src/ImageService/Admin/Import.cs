using Berth.Core.Errors;
using Berth.ImageService.Images;
using Grpc.Core;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

public sealed partial class AdminImageService
{
    public override async Task<AdminApi.ImportResponse> Import(IAsyncStreamReader<AdminApi.ImportChunk> requestStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (!await requestStream.MoveNext(ct) || requestStream.Current.Options is not { } options)
        {
            throw BerthException.InvalidArgument("an import starts with its options (the image's name)");
        }
        // Everything that can be refused without the archive is refused before it is read.
        var request = new NewImage(
            Base: null,
            Name: ImageManager.TagName(Require(options.Reference, "reference")),
            Changes: ImageChanges.Parse(options.Changes),
            Comment: options.Message,
            Author: null,
            CreatedBy: "berthctl import " + options.Source,
            Source: "import of " + options.Source);
        var file = images.Content.NewTemporaryFile();
        try
        {
            await using (var archive = new FileStream(file, FileMode.CreateNew, FileAccess.Write))
            {
                do
                {
                    await archive.WriteAsync(requestStream.Current.Data.Memory, ct);
                }
                while (await requestStream.MoveNext(ct));
            }
        }
        catch
        {
            File.Delete(file);
            throw;
        }
        var image = await images.CreateImageAsync(request, file, ct);
        return new AdminApi.ImportResponse { Image = Summary(image) };
    }
}
