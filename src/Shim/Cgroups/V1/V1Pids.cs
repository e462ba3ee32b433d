using System.Globalization;
using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V1;

/// <summary>v1 pids: pids.max (0 or negative: "max"). The v2 file is the same.</summary>
internal sealed class V1Pids : ICgroupController
{
    private readonly string _max;

    public V1Pids(string directory)
    {
        _max = directory + "/pids.max";
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
}
