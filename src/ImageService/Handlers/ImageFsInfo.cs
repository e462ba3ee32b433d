using Berth.ImageService.Images;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.ImageService.Handlers;

public sealed partial class CriImageService
{
    public override Task<Cri.ImageFsInfoResponse> ImageFsInfo(Cri.ImageFsInfoRequest request, ServerCallContext context)
    {
        var timestamp = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
        var imageFs = images.Usage();
        Directory.CreateDirectory(containerFilesystem);
        var (containerBytes, containerInodes) = DiskUsage.Measure(containerFilesystem);
        var response = new Cri.ImageFsInfoResponse();
        response.ImageFilesystems.Add(Usage(timestamp, imageFs.Mountpoint, imageFs.UsedBytes, imageFs.InodesUsed));
        response.ContainerFilesystems.Add(Usage(timestamp, containerFilesystem, containerBytes, containerInodes));
        return Task.FromResult(response);
    }

    private static Cri.FilesystemUsage Usage(long timestamp, string mountpoint, long bytes, long inodes) => new()
    {
        Timestamp = timestamp,
        FsId = new Cri.FilesystemIdentifier { Mountpoint = mountpoint },
        UsedBytes = new Cri.UInt64Value { Value = (ulong)bytes },
        InodesUsed = new Cri.UInt64Value { Value = (ulong)inodes },
    };
}
