using System.Globalization;
using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V1;

/// <summary>
/// v1 hugetlb: hugetlb.&lt;size&gt;.limit_in_bytes per page size, and the reservation limit
/// hugetlb.&lt;size&gt;.rsvd.limit_in_bytes (Linux 5.7+) set alike when present, as runc does.
/// </summary>
internal sealed class V1Hugetlb : ICgroupController
{
    private readonly string _directory;

    public V1Hugetlb(string directory)
    {
        _directory = directory;
    }

    public void Apply(LinuxResources resources)
    {
        foreach (LinuxHugepageLimit limit in resources.HugepageLimits ?? [])
        {
            string value = limit.Limit.ToString(CultureInfo.InvariantCulture);
            string prefix = _directory + "/hugetlb." + limit.PageSize;
            CgroupFiles.Write(prefix + ".limit_in_bytes", value, missingHint: $"the node has no {limit.PageSize} huge pages");
            if (File.Exists(prefix + ".rsvd.limit_in_bytes"))
            {
                CgroupFiles.Write(prefix + ".rsvd.limit_in_bytes", value);
            }
        }
    }
}
