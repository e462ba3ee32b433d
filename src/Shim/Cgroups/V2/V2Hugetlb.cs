using System.Globalization;
using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V2;

/// <summary>v2 hugetlb: hugetlb.&lt;size&gt;.max, and hugetlb.&lt;size&gt;.rsvd.max alike when the kernel has it (5.7+), as runc does.</summary>
internal sealed class V2Hugetlb : ICgroupController
{
    private readonly string _directory;

    public V2Hugetlb(string directory)
    {
        _directory = directory;
    }

    public void Apply(LinuxResources resources)
    {
        foreach (LinuxHugepageLimit limit in resources.HugepageLimits ?? [])
        {
            string value = limit.Limit.ToString(CultureInfo.InvariantCulture);
            string prefix = _directory + "/hugetlb." + limit.PageSize;
            CgroupFiles.Write(prefix + ".max", value, missingHint: $"the node has no {limit.PageSize} huge pages");
            if (File.Exists(prefix + ".rsvd.max"))
            {
                CgroupFiles.Write(prefix + ".rsvd.max", value);
            }
        }
    }
}
