using Berth.Core.Errors;
using Berth.ImageService.Images;
using Google.Protobuf;
using Grpc.Core;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

public sealed partial class AdminImageService
{
    private const int SaveChunkBytes = 1 << 20;

    /// <summary>
    /// Writes the archive to a temporary file first and then streams it: an error (an image missing, a blob
    /// unreadable) is then a status, never an archive cut short that looks complete.
    /// </summary>
    public override async Task Save(AdminApi.SaveRequest request, IServerStreamWriter<AdminApi.SaveChunk> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (request.Images.Count == 0)
        {
            throw BerthException.InvalidArgument("images must name at least one image");
        }
        var format = request.Format == AdminApi.ArchiveFormat.Oci ? ArchiveFormat.OciLayout : ArchiveFormat.DockerArchive;
        var path = images.Content.NewTemporaryFile();
        try
        {
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
            {
                await images.SaveAsync(request.Images.Select(image => Require(image, "images")).ToList(), format, file, ct);
            }
            await using var archive = File.OpenRead(path);
            var buffer = new byte[SaveChunkBytes];
            int read;
            while ((read = await archive.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct)) > 0)
            {
                await responseStream.WriteAsync(new AdminApi.SaveChunk { Data = ByteString.CopyFrom(buffer, 0, read) }, ct);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
