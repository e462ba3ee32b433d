using Berth.Api.Shim.Cgroups;
using System.Diagnostics;
using Berth.Api.Shim;
using Berth.Shim.Cgroups;
using Berth.Shim.Cgroups.V1;

namespace Berth.Shim.Tests.Unit.Cgroups;

/// <summary>
/// The v1 implementation against the real kernel, under a test-only parent cgroup
/// (/sys/fs/cgroup/&lt;hierarchy&gt;/berth-cgtest-&lt;random&gt;) that is removed even when a test fails.
/// They run only as root on a node whose cgroup root holds v1 hierarchies, and return early elsewhere.
/// </summary>
public sealed class CgroupV1RealTests : IDisposable
{
    private const long Mi = 1 << 20;

    private readonly CgroupLayout? _layout;
    private readonly string _parent = "berth-cgtest-" + Guid.NewGuid().ToString("N")[..10];
    private readonly TestChildren _children = new();

    public CgroupV1RealTests()
    {
        if (Environment.UserName != "root" && geteuid() != 0)
        {
            return;
        }
        try
        {
            var layout = CgroupLayout.Detect(null);
            _layout = layout.Version == 1 ? layout : null;
        }
        catch (CgroupException)
        {
            _layout = null;
        }
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();

    private bool Available => _layout is not null;

    private string Dir(string controller, string relative) =>
        _layout!.Hierarchies.First(h => h.Controllers.Contains(controller)).MountPoint + "/" + relative;

    private bool Has(string controller) => _layout!.Hierarchies.Any(h => h.Controllers.Contains(controller));

    private static string Read(string path) => File.ReadAllText(path).Trim();

    /// <summary>The test parent in every hierarchy (as kubelet makes pod cgroups), with an rt budget for its children.</summary>
    private void MakeParent()
    {
        foreach (CgroupMount hierarchy in _layout!.Hierarchies)
        {
            Directory.CreateDirectory(hierarchy.MountPoint + "/" + _parent);
        }
        if (_layout.HybridUnified is { } unified)
        {
            Directory.CreateDirectory(unified + "/" + _parent);
        }
        if (Has("cpu") && File.Exists(Dir("cpu", _parent) + "/cpu.rt_runtime_us"))
        {
            File.WriteAllText(Dir("cpu", _parent) + "/cpu.rt_runtime_us", "20000");
        }
    }

    /// <summary>
    /// A child that waits for a line on stdin, then burns a little CPU and touches 2 MB (v1 charges
    /// memory when it is allocated, not on moving in), then sleeps: it is moved in before it runs.
    /// </summary>
    private Process StartChild(string script = "read x; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; y=$(head -c 2000000 /dev/zero | tr '\\0' a); exec sleep 30")
    {
        return _children.Start(new ProcessStartInfo("/bin/sh", ["-c", script]) { RedirectStandardInput = true });
    }

    public void Dispose()
    {
        _children.Dispose();
        if (_layout is null)
        {
            return;
        }
        var roots = _layout.Hierarchies.Select(h => h.MountPoint).ToList();
        if (_layout.HybridUnified is { } unified)
        {
            roots.Add(unified);
        }
        foreach (string root in roots)
        {
            TestChildren.RemoveTree(root + "/" + _parent);
        }
    }

    [Fact]
    public void CreateApplyEveryKindAddProcessUpdateDelete()
    {
        if (!Available)
        {
            return;
        }
        MakeParent();
        var manager = CgroupManagerFactory.For(_layout!);
        Assert.Equal(1, manager.Version);
        string path = _parent + "/mid/ctr";   // "mid" is made by the manager and must go with the cgroup
        var resources = new LinuxResources
        {
            Memory = new() { Limit = 64 * Mi, Reservation = 32 * Mi, Swap = 128 * Mi, Swappiness = 10 },
            Cpu = new()
            {
                Shares = 512, Quota = 50000, Period = 100000, Cpus = "0", Mems = "0",
            },
            BlockIO = new()
            {
                Weight = 300,
                ThrottleReadBpsDevice = [new() { Major = 254, Minor = 0, Rate = 10 * (ulong)Mi }],
                ThrottleWriteBpsDevice = [new() { Major = 254, Minor = 0, Rate = 5 * (ulong)Mi }],
                ThrottleReadIOPSDevice = [new() { Major = 254, Minor = 0, Rate = 1000 }],
                ThrottleWriteIOPSDevice = [new() { Major = 254, Minor = 0, Rate = 500 }],
            },
            Pids = new() { Limit = 100 },
            // No hugetlb hierarchy on this node: skipped, not an error (kubelet sends these for every page size).
            HugepageLimits = [new() { PageSize = "2MB", Limit = 0 }],
            Devices =
            [
                new() { Allow = false, Access = "rwm" },
                new() { Allow = true, Type = "c", Major = 10, Minor = 229, Access = "rwm" },
            ],
        };
        bool hasBlockDevice = File.Exists("/sys/dev/block/254:0/dev");
        if (!hasBlockDevice)
        {
            resources = resources with { BlockIO = new() { Weight = 300 } };
        }
        var cgroup = (CgroupV1)manager.Create(path, resources);
        try
        {
            // Every hierarchy, named and hybrid ones included, has the directory.
            Assert.Equal(_layout!.Hierarchies.Count + (_layout.HybridUnified is null ? 0 : 1), cgroup.Directories.Count);
            foreach (string directory in cgroup.Directories)
            {
                Assert.True(Directory.Exists(directory), directory);
            }
            string memory = Dir("memory", path);
            Assert.Equal("67108864", Read(memory + "/memory.limit_in_bytes"));
            Assert.Equal("33554432", Read(memory + "/memory.soft_limit_in_bytes"));
            if (File.Exists(memory + "/memory.memsw.limit_in_bytes"))
            {
                Assert.Equal("134217728", Read(memory + "/memory.memsw.limit_in_bytes"));
            }
            Assert.Equal("10", Read(memory + "/memory.swappiness"));
            string cpu = Dir("cpu", path);
            Assert.Equal("512", Read(cpu + "/cpu.shares"));
            Assert.Equal("50000", Read(cpu + "/cpu.cfs_quota_us"));
            Assert.Equal("100000", Read(cpu + "/cpu.cfs_period_us"));
            // cpuset: given at the leaf, inherited from the root at the empty levels between.
            Assert.Equal("0", Read(Dir("cpuset", path) + "/cpuset.cpus"));
            Assert.Equal("0", Read(Dir("cpuset", path) + "/cpuset.mems"));
            Assert.Equal(Read(Dir("cpuset", "") + "/cpuset.cpus"), Read(Dir("cpuset", _parent + "/mid") + "/cpuset.cpus"));
            string blkio = Dir("blkio", path);
            string weightFile = File.Exists(blkio + "/blkio.bfq.weight") ? "/blkio.bfq.weight" : "/blkio.weight";
            Assert.Contains("300", Read(blkio + weightFile));
            if (hasBlockDevice)
            {
                Assert.Equal("254:0 10485760", Read(blkio + "/blkio.throttle.read_bps_device"));
                Assert.Equal("254:0 5242880", Read(blkio + "/blkio.throttle.write_bps_device"));
                Assert.Equal("254:0 1000", Read(blkio + "/blkio.throttle.read_iops_device"));
                Assert.Equal("254:0 500", Read(blkio + "/blkio.throttle.write_iops_device"));
            }
            Assert.Equal("100", Read(Dir("pids", path) + "/pids.max"));
            string[] devices = File.ReadAllLines(Dir("devices", path) + "/devices.list");
            Assert.Contains("c 10:229 rwm", devices);
            Assert.Contains("c 1:3 rwm", devices);
            Assert.Contains("c *:* m", devices);
            Assert.DoesNotContain("a *:* rwm", devices);
            Assert.DoesNotContain("c 1:1 rwm", devices.Where(l => l.StartsWith("c 1:1 ", StringComparison.Ordinal)));

            // A child process moved in lands in the container's cgroup in every hierarchy.
            Process child = StartChild();
            cgroup.AddProcess(child.Id);
            string[] membership = File.ReadAllLines($"/proc/{child.Id}/cgroup");
            foreach (CgroupMount hierarchy in _layout.Hierarchies)
            {
                string controllers = string.Join(',', hierarchy.Controllers);
                Assert.Contains(membership, line => line.EndsWith(":" + controllers + ":/" + path, StringComparison.Ordinal));
            }
            if (_layout.HybridUnified is not null)
            {
                Assert.Contains("0::/" + path, membership);
            }
            Assert.Equal([child.Id], cgroup.Processes());
            child.StandardInput.WriteLine("go");
            child.StandardInput.Flush();

            Assert.Equal(0UL, cgroup.OomKillCount());

            // Raise memory (memsw goes first), then lower it (the limit goes first); CPU and pids change.
            cgroup.Update(new LinuxResources
            {
                Memory = new() { Limit = 96 * Mi, Swap = 192 * Mi },
                Cpu = new() { Quota = 20000 },
                Pids = new() { Limit = 50 },
            });
            Assert.Equal("100663296", Read(memory + "/memory.limit_in_bytes"));
            Assert.Equal("20000", Read(cpu + "/cpu.cfs_quota_us"));
            Assert.Equal("100000", Read(cpu + "/cpu.cfs_period_us"));
            Assert.Equal("50", Read(Dir("pids", path) + "/pids.max"));
            Assert.Equal("512", Read(cpu + "/cpu.shares"));   // absent values are left alone
            cgroup.Update(new LinuxResources { Memory = new() { Limit = 48 * Mi, Swap = 48 * Mi }, Cpu = new() { Quota = -1 }, Pids = new() { Limit = -1 } });
            Assert.Equal("50331648", Read(memory + "/memory.limit_in_bytes"));
            if (File.Exists(memory + "/memory.memsw.limit_in_bytes"))
            {
                Assert.Equal("50331648", Read(memory + "/memory.memsw.limit_in_bytes"));
            }
            Assert.Equal("-1", Read(cpu + "/cpu.cfs_quota_us"));
            Assert.Equal("max", Read(Dir("pids", path) + "/pids.max"));

            // Refusals are typed: a cpuset outside the node, a unified key of a controller the hybrid tree lacks.
            var refused = Assert.Throws<CgroupWriteException>(() => cgroup.Update(new LinuxResources { Cpu = new() { Cpus = "63" } }));
            Assert.Contains("cpuset.cpus", refused.Message);
            if (_layout.HybridUnified is not null)
            {
                // Refused before the first write: the CPU shares asked beside it are not written either.
                string shares = Read(cpu + "/cpu.shares");
                Assert.Throws<CgroupUnsupportedException>(() => cgroup.Update(new LinuxResources
                {
                    Cpu = new() { Shares = 4 },
                    Unified = new Dictionary<string, string> { ["memory.high"] = "1" },
                }));
                Assert.Equal(shares, Read(cpu + "/cpu.shares"));
                Assert.Throws<InvalidSpecException>(() => cgroup.Update(new LinuxResources { Unified = new Dictionary<string, string> { ["cgroup.procs"] = "1" } }));
                cgroup.Update(new LinuxResources { Unified = new Dictionary<string, string> { ["cgroup.max.descendants"] = "5" } });
                Assert.Equal("5", Read(_layout.HybridUnified + "/" + path + "/cgroup.max.descendants"));
            }

            // A cgroup with a live process cannot go: a clear error after the drain wait.
            Assert.Throws<CgroupBusyException>(() => cgroup.Delete());
            child.Kill();
            child.WaitForExit();
        }
        finally
        {
            _children.KillAll();
            cgroup.Delete();
        }
        // Gone everywhere, and so is the level the manager made; the test parent (pre-existing) stays.
        foreach (string directory in cgroup.Directories)
        {
            Assert.False(Directory.Exists(directory), directory);
            Assert.False(Directory.Exists(Path.GetDirectoryName(directory)), Path.GetDirectoryName(directory));
        }
        Assert.True(Directory.Exists(Dir("memory", _parent)));
        cgroup.Delete();   // twice is fine
    }

    [Fact]
    public void RealtimeBudgetComesFromTheParent()
    {
        if (!Available || !Has("cpu") || !File.Exists(Dir("cpu", "") + "/cpu.rt_runtime_us"))
        {
            return;   // no CONFIG_RT_GROUP_SCHED: a request would be a CgroupUnsupportedException
        }
        MakeParent();
        var manager = CgroupManagerFactory.For(_layout!);
        var rt = new LinuxResources { Cpu = new() { RealtimePeriod = 1000000, RealtimeRuntime = 10000 } };
        // Under the test parent (given 20000 us): granted.
        var cgroup = manager.Create(_parent + "/rt", rt);
        Assert.Equal("10000", Read(Dir("cpu", _parent + "/rt") + "/cpu.rt_runtime_us"));
        Assert.Equal("1000000", Read(Dir("cpu", _parent + "/rt") + "/cpu.rt_period_us"));
        cgroup.Delete();
        // Under a level the manager makes (whose budget is 0, as the kernel starts it): refused with
        // a typed error naming the reason, as runc would; and nothing is left.
        var e = Assert.Throws<CgroupWriteException>(() => manager.Create(_parent + "/mid/rt", rt));
        Assert.Equal("EINVAL", e.Error.ToString());
        Assert.Contains("parent", e.Message);
        Assert.False(Directory.Exists(Dir("cpu", _parent + "/mid")));
    }

    [Fact]
    public void OomKillsAreCounted()
    {
        if (!Available || !Has("memory"))
        {
            return;
        }
        MakeParent();
        var manager = CgroupManagerFactory.For(_layout!);
        var cgroup = manager.Create(_parent + "/oom", new LinuxResources { Memory = new() { Limit = 16 * Mi, Swap = 16 * Mi } });
        try
        {
            Assert.Equal(0UL, cgroup.OomKillCount());
            // The shell keeps the whole command substitution in memory: 64 MB against a 16 MiB limit.
            Process child = StartChild("read x; x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo survived");
            cgroup.AddProcess(child.Id);
            child.StandardInput.WriteLine("go");
            child.StandardInput.Flush();
            Assert.True(child.WaitForExit(30_000));
            Assert.True(cgroup.OomKillCount() >= 1);
        }
        finally
        {
            _children.KillAll();
            foreach (int pid in cgroup.Processes())
            {
                Process.GetProcessById(pid).Kill();
            }
            cgroup.Delete();
        }
    }

    [Fact]
    public void BadInputAndRefusedValuesLeaveNothingBehind()
    {
        if (!Available)
        {
            return;
        }
        MakeParent();
        var manager = CgroupManagerFactory.For(_layout!);
        Assert.Throws<InvalidSpecException>(() => manager.Create(_parent + "/bad/ctr", new LinuxResources { Unified = new Dictionary<string, string> { ["../escape"] = "1" } }));
        Assert.Throws<InvalidSpecException>(() => manager.Create(_parent + "/../escape", null));
        // The kernel refuses a cpuset outside the node's CPUs: the made directories are removed again.
        Assert.Throws<CgroupWriteException>(() => manager.Create(_parent + "/bad/ctr", new LinuxResources { Cpu = new() { Cpus = "63" } }));
        foreach (CgroupMount hierarchy in _layout!.Hierarchies)
        {
            Assert.False(Directory.Exists(hierarchy.MountPoint + "/" + _parent + "/bad"), hierarchy.MountPoint);
        }
        // Swap beyond the limit where swap accounting is missing would be refused; a swap below the limit always is.
        Assert.Throws<InvalidSpecException>(() => manager.Create(_parent + "/bad/ctr", new LinuxResources { Memory = new() { Limit = 64 * Mi, Swap = 32 * Mi } }));
    }
}
