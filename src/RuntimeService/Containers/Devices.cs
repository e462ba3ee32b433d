using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Containers;

public static class Devices
{
    /// <summary>The device numbers of a node on the host, or null when the path is missing or not a device.</summary>
    public static DeviceNumber? Resolve(string hostPath)
    {
        Interop.FileStatus status;
        try
        {
            status = Interop.Sys.LStat(hostPath);
        }
        catch (IOException)
        {
            return null;
        }
        char? type = status.Type switch
        {
            Interop.FileType.CharacterDevice => 'c',
            Interop.FileType.BlockDevice => 'b',
            _ => null,
        };
        return type is null
            ? null
            : new DeviceNumber(status.RDeviceMajor, status.RDeviceMinor, type.Value, (uint)status.Permissions, status.Uid, status.Gid);
    }
}
