using Berth.Core.Errors;
using Berth.ImageService.Images;
using Google.Protobuf;
using Grpc.Core;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

public sealed partial class AdminImageService
{
    private const int SendChunkBytes = 1 << 20;

    /// <summary>Streams a finished file back in 1 MiB chunks, each wrapped by <paramref name="send"/> (save, and the Containers service's export).</summary>
    public static async Task SendFileAsync(string path, Func<ByteString, Task> send, CancellationToken ct)
    {
        await using var file = File.OpenRead(path);
        var buffer = new byte[SendChunkBytes];
        int read;
        while ((read = await file.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct)) > 0)
        {
            await send(ByteString.CopyFrom(buffer, 0, read));
        }
    }

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
            await SendFileAsync(path, data => responseStream.WriteAsync(new AdminApi.SaveChunk { Data = data }, ct), ct);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
