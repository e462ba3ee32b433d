using Berth.ImageService.Images;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.ImageService.Handlers;

public sealed partial class CriImageService
{
    public override Task<Cri.ImageFsInfoResponse> ImageFsInfo(Cri.ImageFsInfoRequest request, ServerCallContext context)
    {
        var timestamp = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
        var response = new Cri.ImageFsInfoResponse();
        response.ImageFilesystems.Add(ToCri(timestamp, images.Usage()));
        response.ContainerFilesystems.Add(ToCri(timestamp, containerFilesystem()));
        return Task.FromResult(response);
    }

    private static Cri.FilesystemUsage ToCri(long timestamp, FilesystemUsage usage) => new()
    {
        Timestamp = timestamp,
        FsId = new Cri.FilesystemIdentifier { Mountpoint = usage.Mountpoint },
        UsedBytes = new Cri.UInt64Value { Value = (ulong)usage.UsedBytes },
        InodesUsed = new Cri.UInt64Value { Value = (ulong)usage.InodesUsed },
    };
}
