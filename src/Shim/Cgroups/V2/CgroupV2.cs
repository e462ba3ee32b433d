using Berth.Api.Shim.Cgroups;
using System.Globalization;
using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V2;

/// <summary>
/// cgroup v2: one directory in the unified tree. Creating it enables, in the root and every
/// ancestor, the controllers the ancestor offers (cgroup.controllers → cgroup.subtree_control),
/// as runc does, so the leaf has them all.
/// </summary>
internal sealed class CgroupV2Manager : ICgroupManager
{
    private readonly CgroupLayout _layout;

    public CgroupV2Manager(CgroupLayout layout)
    {
        _layout = layout;
    }

    public int Version => 2;

    public ICgroup Create(string path, LinuxResources? resources)
    {
        string relative = CgroupConversions.NormalizePath(path);
        if (resources is not null)
        {
            CgroupConversions.Validate(resources, 2);
        }
        var created = new List<string>();
        try
        {
            string directory = CgroupDirectories.Make(_layout.Root, relative, created, EnableControllers);
            var cgroup = new CgroupV2(relative, directory, [.. created]);
            if (resources is not null)
            {
                cgroup.Update(resources);
            }
            return cgroup;
        }
        catch
        {
            CgroupDirectories.RemoveCreated(created);
            throw;
        }
    }

    /// <summary>
    /// Writes "+c" to <paramref name="parent"/>'s cgroup.subtree_control for every controller it
    /// offers and has not enabled: all at once, else one by one. A refusal is not fatal here: a
    /// parent holding processes cannot enable any ("no internal processes": EBUSY), a threaded one
    /// only some; a limit that then lacks its controller fails by name at Update.
    /// </summary>
    internal static void EnableControllers(string parent)
    {
        string available = CgroupFiles.ReadText(parent + "/cgroup.controllers") ?? "";
        string enabled = " " + (CgroupFiles.ReadText(parent + "/cgroup.subtree_control") ?? "") + " ";
        var missing = new List<string>();
        foreach (string controller in available.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!enabled.Contains(" " + controller + " ", StringComparison.Ordinal))
            {
                missing.Add("+" + controller);
            }
        }
        if (missing.Count == 0 || CgroupFiles.TryWrite(parent + "/cgroup.subtree_control", string.Join(' ', missing)) == 0)
        {
            return;
        }
        foreach (string one in missing)
        {
            CgroupFiles.TryWrite(parent + "/cgroup.subtree_control", one);
        }
    }
}

/// <summary>One container's v2 cgroup: a controller object per controller enabled for it.</summary>
internal sealed class CgroupV2 : ICgroup
{
    private readonly string _directory;
    private readonly string[] _created;
    private readonly string _procs;
    private readonly string _controllersFile;
    private readonly V2Memory _memory;
    private readonly V2Cpu _cpu;
    private readonly V2Cpuset _cpuset;
    private readonly V2Io _io;
    private readonly V2Pids _pids;
    private readonly V2Hugetlb _hugetlb;
    private readonly V2Unified _unified;
    private readonly V2Devices _devices;
    private readonly V2Freezer _freezer;

    public CgroupV2(string path, string directory, string[] created)
    {
        Path = path;
        _directory = directory;
        _created = created;
        _procs = directory + "/cgroup.procs";
        _controllersFile = directory + "/cgroup.controllers";
        _memory = new V2Memory(directory);
        _cpu = new V2Cpu(directory);
        _cpuset = new V2Cpuset(directory);
        _io = new V2Io(directory);
        _pids = new V2Pids(directory);
        _hugetlb = new V2Hugetlb(directory);
        _unified = new V2Unified(directory);
        _devices = new V2Devices(directory);
        _freezer = new V2Freezer(directory);
    }

    public string Path { get; }

    public string Directory => _directory;

    public void AddProcess(int pid) =>
        CgroupFiles.Write(_procs, pid.ToString(CultureInfo.InvariantCulture),
            refusedHint: "the process is gone (ESRCH), or the cgroup has children (no internal processes: EBUSY)");

    public void Update(LinuxResources resources)
    {
        CgroupConversions.Validate(resources, 2);
        string enabled = " " + (CgroupFiles.ReadText(_controllersFile) ?? "") + " ";
        bool memory = Has(enabled, "memory", CgroupRequests.Memory(resources), "memory limits");
        bool cpu = Has(enabled, "cpu", CgroupRequests.Cpu(resources), "CPU weight and quota");
        bool cpuset = Has(enabled, "cpuset", CgroupRequests.Cpuset(resources), "cpus and mems");
        bool io = Has(enabled, "io", CgroupRequests.BlockIO(resources), "block I/O weights and limits");
        bool pids = Has(enabled, "pids", CgroupRequests.Pids(resources), "a pids limit");
        // hugetlb limits are skipped where the controller is missing, as on v1 (kubelet sends them
        // for every page size the node has).
        bool hugetlb = enabled.Contains(" hugetlb ", StringComparison.Ordinal);
        // Every refusal before the first write: a refused update changes nothing.
        _unified.Check(resources);
        // Device rules first, as runc orders them: an eBPF program, which v2 has instead of a controller.
        _devices.Apply(resources);
        if (cpuset)
        {
            _cpuset.Apply(resources);
        }
        if (memory)
        {
            _memory.Apply(resources);
        }
        if (cpu)
        {
            _cpu.Apply(resources);
        }
        if (io)
        {
            _io.Apply(resources);
        }
        if (pids)
        {
            _pids.Apply(resources);
        }
        if (hugetlb)
        {
            _hugetlb.Apply(resources);
        }
        _unified.Apply(resources);
    }

    /// <summary>Whether <paramref name="name"/> is enabled; refuses a request for it when it is not.</summary>
    private bool Has(string enabled, string name, bool requested, string what)
    {
        bool has = enabled.Contains(" " + name + " ", StringComparison.Ordinal);
        if (requested && !has)
        {
            throw new CgroupUnsupportedException(
                $"{what} need the {name} controller, which is not enabled for {_directory} (the parent's cgroup.subtree_control)", _controllersFile);
        }
        return has;
    }

    public void SetFrozen(bool frozen, TimeSpan bound) => _freezer.Set(frozen, bound);

    public bool TryKillAll() => CgroupFiles.TryWrite(_directory + "/cgroup.kill", "1") == 0;

    public IReadOnlyList<int> Processes()
    {
        byte[]? text = CgroupFiles.ReadAll(_procs);
        return text is null ? [] : CgroupText.ParsePids(text);
    }

    public ulong OomKillCount() => _memory.OomKillCount();

    public void Delete()
    {
        string? failure = CgroupDirectories.Remove([_directory]);
        CgroupDirectories.RemoveCreatedParents(_created, [_directory]);
        if (failure is not null)
        {
            throw new CgroupBusyException($"cgroup {Path} could not be removed (tasks or child cgroups remain): {failure}", _directory);
        }
    }
}
