using Berth.Api.Shim;
using Berth.Api.Shim.Cgroups;

namespace Berth.Shim.Cgroups.V2;

/// <summary>
/// The spec's unified map, written as given and last, so it can refine what the typed fields set
/// (e.g. memory.high, memory.oom.group). <see cref="Check"/> runs before anything of an update is
/// written: a core file such as cgroup.procs or cgroup.kill is refused (<see cref="UnifiedKeys"/>), and
/// so is a file of a controller not enabled for this directory (its cgroup.controllers; none in a
/// hybrid node's cgroup2 tree), as a typed limit whose controller is missing.
/// </summary>
internal sealed class V2Unified : ICgroupController
{
    private readonly string _directory;

    public V2Unified(string directory)
    {
        _directory = directory;
    }

    /// <summary>
    /// Throws <see cref="InvalidSpecException"/> for a key no container may write, and
    /// <see cref="CgroupUnsupportedException"/> for one whose controller this cgroup lacks.
    /// </summary>
    public void Check(LinuxResources resources)
    {
        if (resources.Unified is not { Count: > 0 } unified)
        {
            return;
        }
        string controllersFile = _directory + "/cgroup.controllers";
        var enabled = (CgroupFiles.ReadText(controllersFile) ?? "")
            .Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ToHashSet(StringComparer.Ordinal);
        foreach (string key in unified.Keys)
        {
            CgroupConversions.ValidateUnifiedKey(key);
            if (UnifiedKeys.MissingController(key, enabled) is { } controller)
            {
                throw new CgroupUnsupportedException(
                    $"unified key \"{key}\" needs the {controller} controller, which is not enabled for {_directory}", controllersFile);
            }
        }
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.Unified is null)
        {
            return;
        }
        foreach (var (key, value) in resources.Unified)
        {
            CgroupFiles.Write(_directory + "/" + key, value,
                missingHint: "no such file: a misspelt key, or a file this kernel's controller lacks");
        }
    }
}
