using System.Globalization;
using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V2;

/// <summary>
/// v2 io: the blkio weight goes to io.bfq.weight unchanged when BFQ offers it (same 1-1000 range),
/// else to io.weight converted to 1-10000 (runc's choice); per-device weights likewise ("MAJ:MIN W");
/// the four throttles become one io.max line per device. Leaf weights have no v2 counterpart and are ignored.
/// </summary>
internal sealed class V2Io : ICgroupController
{
    private readonly string _directory;

    public V2Io(string directory)
    {
        _directory = directory;
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.BlockIO is not { } io)
        {
            return;
        }
        string bfqWeight = _directory + "/io.bfq.weight";
        bool bfq = File.Exists(bfqWeight);
        const string NoWeight = "proportional weights need the BFQ scheduler or iocost (io.weight)";
        if (io.Weight is { } weight and not 0)
        {
            if (bfq)
            {
                CgroupFiles.Write(bfqWeight, weight.ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                CgroupFiles.Write(_directory + "/io.weight", CgroupConversions.BlkioWeightToIoWeight(weight).ToString(CultureInfo.InvariantCulture), missingHint: NoWeight);
            }
        }
        foreach (LinuxWeightDevice device in io.WeightDevice ?? [])
        {
            if (device.Weight is { } w and not 0)
            {
                string line = bfq
                    ? CgroupConversions.WeightDeviceLine(device.Major, device.Minor, w)
                    : CgroupConversions.WeightDeviceLine(device.Major, device.Minor, CgroupConversions.BlkioWeightToIoWeight(w));
                CgroupFiles.Write(bfq ? bfqWeight : _directory + "/io.weight", line, missingHint: NoWeight);
            }
        }
        foreach (string line in CgroupConversions.IoMaxLines(io))
        {
            CgroupFiles.Write(_directory + "/io.max", line, missingHint: "the kernel lacks CONFIG_BLK_DEV_THROTTLING",
                refusedHint: "no such block device (throttling takes whole disks, not partitions)");
        }
    }
}
