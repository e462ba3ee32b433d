using Berth.Api.Shim;
using Berth.Shim.Cgroups.V1;

namespace Berth.Shim.Cgroups.V2;

/// <summary>v2 pids: pids.max, the same file and values as v1.</summary>
internal sealed class V2Pids : ICgroupController
{
    private readonly string _max;

    public V2Pids(string directory)
    {
        _max = directory + "/pids.max";
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.Pids is { } pids)
        {
            CgroupFiles.Write(_max, V1Pids.MaxText(pids.Limit));
        }
    }
}
