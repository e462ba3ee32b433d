using Berth.Api.Shim.Cgroups;
using System.Globalization;
using Berth.Api.Shim;
using Berth.Shim.Cgroups.V2;

namespace Berth.Shim.Cgroups.V1;

/// <summary>
/// cgroup v1 (and hybrid): the container's directory in every hierarchy the node mounts, named
/// ones such as name=systemd and the hybrid cgroup2 tree included, so that a process moved in is
/// in the container's cgroup everywhere and nothing is left behind on delete.
/// </summary>
internal sealed class CgroupV1Manager : ICgroupManager
{
    private readonly CgroupLayout _layout;

    public CgroupV1Manager(CgroupLayout layout)
    {
        _layout = layout;
    }

    public int Version => 1;

    public ICgroup Create(string path, LinuxResources? resources)
    {
        string relative = CgroupConversions.NormalizePath(path);
        if (resources is not null)
        {
            CgroupConversions.Validate(resources, 1);
        }
        var created = new List<string>();
        try
        {
            var directories = new List<string>();
            var controllers = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (CgroupMount hierarchy in _layout.Hierarchies)
            {
                string directory = CgroupDirectories.Make(hierarchy.MountPoint, relative, created);
                directories.Add(directory);
                foreach (string controller in hierarchy.Controllers)
                {
                    controllers.TryAdd(controller, directory);
                }
                if (hierarchy.Controllers.Contains("cpuset"))
                {
                    V1Cpuset.InheritFromParents(hierarchy.MountPoint, relative);
                }
            }
            string? unified = null;
            if (_layout.HybridUnified is { } hybrid)
            {
                unified = CgroupDirectories.Make(hybrid, relative, created);
                directories.Add(unified);
            }
            var cgroup = new CgroupV1(relative, _layout.Root, [.. directories], controllers, unified, [.. created]);
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
}

/// <summary>One container's v1 cgroup: one controller object per mounted controller it uses.</summary>
internal sealed class CgroupV1 : ICgroup
{
    private readonly string _root;
    private readonly string[] _directories;
    private readonly string[] _created;
    private readonly string? _unified;
    private readonly string _procs;
    private readonly V1Memory? _memory;
    private readonly V1Cpu? _cpu;
    private readonly V1Cpuset? _cpuset;
    private readonly V1Blkio? _blkio;
    private readonly V1Pids? _pids;
    private readonly V1Hugetlb? _hugetlb;
    private readonly V1Devices? _devices;
    private readonly V1Freezer? _freezer;
    private readonly V2Unified? _unifiedFiles;

    public CgroupV1(string path, string root, string[] directories, IReadOnlyDictionary<string, string> controllers, string? unified, string[] created)
    {
        Path = path;
        _root = root;
        _directories = directories;
        _unified = unified;
        _created = created;
        _memory = controllers.TryGetValue("memory", out string? d) ? new V1Memory(d) : null;
        _cpu = controllers.TryGetValue("cpu", out d) ? new V1Cpu(d) : null;
        _cpuset = controllers.TryGetValue("cpuset", out d) ? new V1Cpuset(d) : null;
        _blkio = controllers.TryGetValue("blkio", out d) ? new V1Blkio(d) : null;
        _pids = controllers.TryGetValue("pids", out d) ? new V1Pids(d) : null;
        _hugetlb = controllers.TryGetValue("hugetlb", out d) ? new V1Hugetlb(d) : null;
        _devices = controllers.TryGetValue("devices", out d) ? new V1Devices(d) : null;
        _freezer = controllers.TryGetValue("freezer", out d) ? new V1Freezer(d) : null;
        _unifiedFiles = unified is null ? null : new V2Unified(unified);
        // cgroup.procs of the pids (else memory, else first) hierarchy: the process list.
        string procsDirectory = controllers.TryGetValue("pids", out d) || controllers.TryGetValue("memory", out d) ? d : directories[0];
        _procs = procsDirectory + "/cgroup.procs";
    }

    public string Path { get; }

    /// <summary>The container's directory in each hierarchy (the hybrid cgroup2 one last).</summary>
    public IReadOnlyList<string> Directories => _directories;

    public void AddProcess(int pid)
    {
        string text = pid.ToString(CultureInfo.InvariantCulture);
        foreach (string directory in _directories)
        {
            CgroupFiles.Write(directory + "/cgroup.procs", text,
                refusedHint: "the process is gone (ESRCH), or the cgroup cannot take tasks (an empty cpuset: ENOSPC)");
        }
    }

    public void Update(LinuxResources resources)
    {
        CgroupConversions.Validate(resources, 1);
        Require(CgroupRequests.Memory(resources), _memory, "memory", "memory limits");
        Require(CgroupRequests.Cpu(resources), _cpu, "cpu", "CPU shares, quota and realtime limits");
        Require(CgroupRequests.Cpuset(resources), _cpuset, "cpuset", "cpus and mems");
        Require(CgroupRequests.BlockIO(resources), _blkio, "blkio", "block I/O weights and throttles");
        Require(CgroupRequests.Pids(resources), _pids, "pids", "a pids limit");
        Require(CgroupRequests.Devices(resources), _devices, "devices", "device rules");
        // kubelet sends a hugetlb limit (often 0) for every page size in /sys/kernel/mm/hugepages,
        // so a node with huge pages but no hugetlb hierarchy would fail every container: there
        // the limits are skipped (not enforced), which is what this node can do.
        if (CgroupRequests.Unified(resources) && _unified is null)
        {
            throw new CgroupUnsupportedException($"unified (cgroup v2) keys need cgroup v2; {_root} holds v1 hierarchies only");
        }
        // Every refusal before the first write: a refused update changes nothing.
        _unifiedFiles?.Check(resources);
        // runc's order: cpuset first (tasks may need it), devices, then the rest.
        _cpuset?.Apply(resources);
        _devices?.Apply(resources);
        _memory?.Apply(resources);
        _cpu?.Apply(resources);
        _blkio?.Apply(resources);
        _pids?.Apply(resources);
        _hugetlb?.Apply(resources);
        // Hybrid: the cgroup2 tree has no controllers, so only the core limits pass there.
        _unifiedFiles?.Apply(resources);
    }

    private void Require(bool requested, ICgroupController? controller, string name, string what)
    {
        if (requested && controller is null)
        {
            throw new CgroupUnsupportedException($"{what} need the {name} controller, and no v1 hierarchy under {_root} has it");
        }
    }

    public void SetFrozen(bool frozen, TimeSpan bound)
    {
        if (_freezer is null)
        {
            throw new CgroupUnsupportedException($"freezing needs the freezer controller, and no v1 hierarchy under {_root} has it");
        }
        _freezer.Set(frozen, bound);
    }

    public bool TryKillAll() => false;

    public IReadOnlyList<int> Processes()
    {
        byte[]? text = CgroupFiles.ReadAll(_procs);
        return text is null ? [] : CgroupText.ParsePids(text);
    }

    public ulong OomKillCount() => _memory?.OomKillCount() ?? 0;

    public void Delete()
    {
        string? failure = CgroupDirectories.Remove(_directories);
        CgroupDirectories.RemoveCreatedParents(_created, _directories);
        if (failure is not null)
        {
            throw new CgroupBusyException($"cgroup {Path} could not be removed (tasks or child cgroups remain): {failure}", failure);
        }
    }
}
