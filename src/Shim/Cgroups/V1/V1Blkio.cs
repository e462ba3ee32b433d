using System.Globalization;
using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V1;

/// <summary>
/// v1 blkio: weight and per-device weight (BFQ's blkio.bfq.weight* when the BFQ scheduler offers
/// them, else CFQ's blkio.weight*, as runc chooses), leaf weights (CFQ only, gone since Linux 5.0),
/// and the throttle.{read,write}_{bps,iops}_device limits.
/// </summary>
internal sealed class V1Blkio : ICgroupController
{
    private const string NoWeight = "proportional weights need the BFQ (or, before Linux 5.0, CFQ) I/O scheduler";

    private readonly string _directory;

    public V1Blkio(string directory)
    {
        _directory = directory;
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.BlockIO is not { } io)
        {
            return;
        }
        bool bfq = File.Exists(_directory + "/blkio.bfq.weight");
        string weightFile = _directory + (bfq ? "/blkio.bfq.weight" : "/blkio.weight");
        string weightDeviceFile = _directory + (bfq ? "/blkio.bfq.weight_device" : "/blkio.weight_device");
        if (io.Weight is { } weight and not 0)
        {
            CgroupFiles.Write(weightFile, weight.ToString(CultureInfo.InvariantCulture), missingHint: NoWeight);
        }
        if (io.LeafWeight is { } leaf and not 0)
        {
            CgroupFiles.Write(_directory + "/blkio.leaf_weight", leaf.ToString(CultureInfo.InvariantCulture), missingHint: "leaf weights were CFQ's, removed in Linux 5.0");
        }
        foreach (LinuxWeightDevice device in io.WeightDevice ?? [])
        {
            if (device.Weight is { } w and not 0)
            {
                CgroupFiles.Write(weightDeviceFile, CgroupConversions.WeightDeviceLine(device.Major, device.Minor, w), missingHint: NoWeight,
                    refusedHint: "no such block device, or its scheduler has no weights");
            }
            if (device.LeafWeight is { } lw and not 0)
            {
                CgroupFiles.Write(_directory + "/blkio.leaf_weight_device", CgroupConversions.WeightDeviceLine(device.Major, device.Minor, lw),
                    missingHint: "leaf weights were CFQ's, removed in Linux 5.0");
            }
        }
        Throttle(io.ThrottleReadBpsDevice, "/blkio.throttle.read_bps_device");
        Throttle(io.ThrottleWriteBpsDevice, "/blkio.throttle.write_bps_device");
        Throttle(io.ThrottleReadIOPSDevice, "/blkio.throttle.read_iops_device");
        Throttle(io.ThrottleWriteIOPSDevice, "/blkio.throttle.write_iops_device");
    }

    private void Throttle(IReadOnlyList<LinuxThrottleDevice>? devices, string file)
    {
        foreach (LinuxThrottleDevice device in devices ?? [])
        {
            CgroupFiles.Write(_directory + file, CgroupConversions.ThrottleLine(device),
                missingHint: "the kernel lacks CONFIG_BLK_DEV_THROTTLING", refusedHint: "no such block device (throttling takes whole disks, not partitions)");
        }
    }
}
