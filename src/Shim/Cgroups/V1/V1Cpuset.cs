using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V1;

/// <summary>
/// v1 cpuset: cpus and mems. A new v1 cpuset cgroup starts with both empty and refuses tasks
/// (ENOSPC), so <see cref="InheritFromParents"/> fills every empty level from its parent, as runc's
/// cpuset ensureParent does.
/// </summary>
internal sealed class V1Cpuset : ICgroupController
{
    private readonly string _directory;

    public V1Cpuset(string directory)
    {
        _directory = directory;
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.Cpu is not { } cpu)
        {
            return;
        }
        const string Outside = "the set is not within the parent's cpuset";
        // mems before cpus does not matter to the kernel; runc writes cpus first.
        if (!string.IsNullOrEmpty(cpu.Cpus))
        {
            CgroupFiles.Write(_directory + "/cpuset.cpus", cpu.Cpus, refusedHint: Outside);
        }
        if (!string.IsNullOrEmpty(cpu.Mems))
        {
            CgroupFiles.Write(_directory + "/cpuset.mems", cpu.Mems, refusedHint: Outside);
        }
    }

    /// <summary>Copies cpuset.cpus and cpuset.mems down from <paramref name="mountPoint"/> to the leaf wherever a level's is empty.</summary>
    public static void InheritFromParents(string mountPoint, string relativePath)
    {
        string parent = mountPoint;
        foreach (string part in relativePath.Split('/'))
        {
            string child = parent + "/" + part;
            foreach (string file in (ReadOnlySpan<string>)["/cpuset.cpus", "/cpuset.mems"])
            {
                if (string.IsNullOrEmpty(CgroupFiles.ReadText(child + file)))
                {
                    string value = CgroupFiles.ReadText(parent + file) ?? "";
                    if (value.Length > 0)
                    {
                        CgroupFiles.Write(child + file, value);
                    }
                }
            }
            parent = child;
        }
    }
}
