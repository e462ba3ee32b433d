using Berth.Api.Shim;
using Berth.Shim.Cgroups.V1;

namespace Berth.Shim.Cgroups.V2;

/// <summary>v2 pids: pids.max and pids.current, the same files and values as v1.</summary>
internal sealed class V2Pids : ICgroupController
{
    private readonly string _max;
    private readonly string _current;

    public V2Pids(string directory)
    {
        _max = directory + "/pids.max";
        _current = directory + "/pids.current";
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.Pids is { } pids)
        {
            CgroupFiles.Write(_max, V1Pids.MaxText(pids.Limit));
        }
    }

    public void ReadStats(ref CgroupStatsBuilder stats, Span<byte> buffer)
    {
        if (CgroupFiles.TryReadUInt64(_current, buffer, out ulong current))
        {
            stats.Pids = current;
        }
    }
}
