using System.Globalization;
using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V1;

/// <summary>v1 pids: pids.max (0 or negative: "max"), pids.current for stats. The v2 files are the same.</summary>
internal sealed class V1Pids : ICgroupController
{
    private readonly string _max;
    private readonly string _current;

    public V1Pids(string directory)
    {
        _max = directory + "/pids.max";
        _current = directory + "/pids.current";
    }


    /// <summary>The pids.max text of a limit.</summary>
    public static string MaxText(long limit) => limit > 0 ? limit.ToString(CultureInfo.InvariantCulture) : "max";

    public void Apply(LinuxResources resources)
    {
        if (resources.Pids is { } pids)
        {
            CgroupFiles.Write(_max, MaxText(pids.Limit));
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
