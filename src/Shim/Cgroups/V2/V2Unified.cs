using Berth.Api.Shim;
using Berth.Api.Shim.Cgroups;

namespace Berth.Shim.Cgroups.V2;

/// <summary>
/// The spec's unified map, written as given and last, so it can refine what the typed fields set
/// (e.g. memory.high, memory.oom.group). Each key is checked first against the controllers enabled
/// for this directory (its cgroup.controllers; none in a hybrid node's cgroup2 tree), so a core file
/// such as cgroup.procs or cgroup.kill, or a file of a controller the cgroup lacks, is refused
/// (<see cref="UnifiedKeys"/>) before anything is written.
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
        if (resources.Unified is not { Count: > 0 } unified)
        {
            return;
        }
        var enabled = (CgroupFiles.ReadText(_directory + "/cgroup.controllers") ?? "")
            .Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ToHashSet(StringComparer.Ordinal);
        foreach (string key in unified.Keys)
        {
            CgroupConversions.ValidateUnifiedKey(key, enabled);
        }
        foreach (var (key, value) in unified)
        {
            CgroupFiles.Write(_directory + "/" + key, value,
                missingHint: "no such file: a misspelt key, or a file this kernel's controller lacks");
        }
    }
}
