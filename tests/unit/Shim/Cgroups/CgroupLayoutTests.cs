using Berth.Api.Shim.Cgroups;
using Berth.Shim.Cgroups;

namespace Berth.Shim.Tests.Unit.Cgroups;

public sealed class CgroupLayoutTests
{
    // This machine's layout: v1 controllers each in its own hierarchy, name=systemd, and a hybrid cgroup2 tree.
    private const string HybridMountinfo = """
        22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
        33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
        34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
        39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd,release_agent=/lib/systemd/systemd-cgroups-agent
        40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
        41 30 0:28 / /sys/fs/cgroup/cpu\040again rw,relatime - cgroup cgroup rw,cpu,cpuacct
        50 1 0:40 / /var/lib/other rw - cgroup cgroup rw,pids
        """;

    private const string V2Mountinfo = """
        25 22 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
        """;

    [Fact]
    public void MountinfoYieldsCgroupMountsWithControllers()
    {
        var mounts = CgroupMounts.Parse(HybridMountinfo);
        Assert.Equal(8, mounts.Count);
        Assert.Equal(["cpu", "cpuacct"], mounts[0].Controllers);
        Assert.Equal(["cpuset"], mounts[1].Controllers);
        Assert.Equal(["name=systemd"], mounts[4].Controllers);
        Assert.True(mounts[5].IsV2);
        Assert.Empty(mounts[5].Controllers);
        Assert.Equal("/sys/fs/cgroup/cpu again", mounts[6].MountPoint);
        Assert.Equal("0:28", mounts[6].Device);
    }

    [Fact]
    public void HybridIsV1WithTheUnifiedTreeBeside()
    {
        var layout = CgroupLayout.Classify("/sys/fs/cgroup", CgroupLayout.TmpfsMagic, CgroupMounts.Parse(HybridMountinfo));
        Assert.Equal(1, layout.Version);
        Assert.Equal("/sys/fs/cgroup/unified", layout.HybridUnified);
        // One per hierarchy: the second mount of 0:28 and the pids mount outside the root are left out.
        Assert.Equal(["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/devices", "/sys/fs/cgroup/systemd"],
            layout.Hierarchies.Select(h => h.MountPoint));
    }

    [Fact]
    public void PureV1HasNoUnifiedTree()
    {
        string v1 = string.Join('\n', HybridMountinfo.Split('\n').Where(l => !l.Contains("cgroup2")));
        var layout = CgroupLayout.Classify("/sys/fs/cgroup", CgroupLayout.TmpfsMagic, CgroupMounts.Parse(v1));
        Assert.Equal(1, layout.Version);
        Assert.Null(layout.HybridUnified);
        Assert.Equal(5, layout.Hierarchies.Count);
    }

    [Fact]
    public void Cgroup2MagicAtTheRootIsV2()
    {
        var layout = CgroupLayout.Classify("/sys/fs/cgroup", CgroupLayout.Cgroup2SuperMagic, CgroupMounts.Parse(V2Mountinfo));
        Assert.Equal(2, layout.Version);
        Assert.Empty(layout.Hierarchies);
        // The magic decides, not the mount table (a v2 root seen from inside a container may lack its mountinfo line).
        Assert.Equal(2, CgroupLayout.Classify("/sys/fs/cgroup", CgroupLayout.Cgroup2SuperMagic, []).Version);
    }

    [Theory]
    [InlineData(@"/plain", "/plain")]
    [InlineData(@"/a\040b\011c\012d\134e", "/a b\tc\nd\\e")]
    [InlineData(@"/short\04", @"/short\04")]      // not three octal digits: left as it is
    [InlineData(@"/not\089octal", @"/not\089octal")]
    public void MountinfoPathsAreUnescaped(string field, string path) =>
        Assert.Equal(path, CgroupMounts.Unescape(field));

    [Fact]
    public void NothingMountedIsAClearError()
    {
        var e = Assert.Throws<NotSupportedException>(() => CgroupLayout.Classify("/sys/fs/cgroup", CgroupLayout.TmpfsMagic, CgroupMounts.Parse(V2Mountinfo.Replace("/sys/fs/cgroup", "/elsewhere"))));
        Assert.Contains("no cgroup hierarchy", e.Message);
    }

    [Fact]
    public void ThisMachineIsDetected()
    {
        // Whatever this node is, detection must succeed and agree with statfs.
        var layout = CgroupLayout.Detect(null);
        long magic = Interop.Sys.StatFsType("/sys/fs/cgroup");
        Assert.Equal(magic == CgroupLayout.Cgroup2SuperMagic ? 2 : 1, layout.Version);
    }
}
