using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V2;

/// <summary>
/// The spec's unified map, written as given and last, so it can refine what the typed fields set
/// (e.g. memory.high, memory.oom.group). Keys are plain file names (validated: no '/', no "..").
/// </summary>
internal sealed class V2Unified : ICgroupController
{
    private readonly string _directory;

    public V2Unified(string directory)
    {
        _directory = directory;
    }

    public void Apply(LinuxResources resources)
    {
        foreach (var (key, value) in resources.Unified ?? new Dictionary<string, string>())
        {
            CgroupConversions.ValidateUnifiedKey(key);
            CgroupFiles.Write(_directory + "/" + key, value,
                missingHint: "no such file: a misspelt key, or its controller is not enabled in the parent's cgroup.subtree_control");
        }
    }
}
