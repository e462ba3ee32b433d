using Berth.Api.Shim;
using Berth.Shim.Init;
using Xunit;

namespace Berth.Shim.Tests.Unit;

public sealed class InitLogicTests : IDisposable
{
    /// <summary>A container root of links and directories for the path resolution tests.</summary>
    private readonly string _root = Directory.CreateTempSubdirectory("berth-init-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void MountOptionsSplitFlagsPropagationAndData()
    {
        var options = MountOptions.Parse(["nosuid", "noexec", "nodev", "mode=755", "size=65536k"]);
        Assert.Equal(Interop.Sys.MS_NOSUID | Interop.Sys.MS_NOEXEC | Interop.Sys.MS_NODEV, options.Flags);
        Assert.Equal("mode=755,size=65536k", options.Data);
        Assert.False(options.Bind);

        var bind = MountOptions.Parse(["rbind", "rprivate", "ro"]);
        Assert.True(bind.Bind);
        Assert.True(bind.Recursive);
        Assert.Equal(Interop.Sys.MS_RDONLY, bind.Flags);
        Assert.Equal(Interop.Sys.MS_PRIVATE | Interop.Sys.MS_REC, bind.Propagation);
        Assert.Equal("", bind.Data);

        var rw = MountOptions.Parse(["ro", "rw", "newinstance", "ptmxmode=0666"]);
        Assert.Equal(0UL, rw.Flags & Interop.Sys.MS_RDONLY);
        Assert.Equal("newinstance,ptmxmode=0666", rw.Data);
        Assert.Equal(0UL, MountOptions.Parse(null).Flags);
    }

    [Fact]
    public void RroAndTheBindFlagsBecomeMountAttributes()
    {
        var rro = MountOptions.Parse(["rbind", "rprivate", "ro", "rro", "nosuid", "noatime"]);
        Assert.True(rro.RecursiveReadOnly);
        var (set, clear) = MountOptions.Attributes(rro.Flags & MountOptions.RemountableFlags, rro.ClearedFlags);
        // MOUNT_ATTR_RDONLY | NOSUID | NOATIME, and the access-time field cleared (MOUNT_ATTR__ATIME).
        Assert.Equal(0x1UL | 0x2 | 0x10, (ulong)set);
        Assert.Equal(0x70UL, (ulong)clear);

        var rw = MountOptions.Parse(["rbind", "rw", "nodev", "noexec", "nosymfollow"]);
        Assert.False(rw.RecursiveReadOnly);
        (set, clear) = MountOptions.Attributes(rw.Flags & MountOptions.RemountableFlags, rw.ClearedFlags);
        // MOUNT_ATTR_NODEV | NOEXEC | NOSYMFOLLOW set; "rw" clears MOUNT_ATTR_RDONLY.
        Assert.Equal(0x4UL | 0x8 | 0x200000, (ulong)set);
        Assert.Equal(0x1UL, (ulong)clear);
    }

    [Theory]
    [InlineData("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/core_pattern", false, "inside /proc")]
    [InlineData("/data", "/proc/sys/kernel/core_pattern", false, "resolves to /proc/sys/kernel/core_pattern through a symbolic link")]
    [InlineData("/proc", "/proc", false, "only a proc file system")]
    [InlineData("/proc", "/proc", true, null)]
    [InlineData("/proc/cpuinfo", "/proc/cpuinfo", false, null)]
    [InlineData("/data", "/sys/kernel/security", false, "resolves into /sys through a symbolic link")]
    [InlineData("/sys/fs/cgroup", "/sys/fs/cgroup", false, null)]
    [InlineData("/data", "/srv/data", false, null)]
    public void ProcAndSysAreGuardedWhereTheDestinationLands(string requested, string resolved, bool procfs, string? refusal)
    {
        string? why = ProcSysMounts.Refusal(requested, resolved, procfs);
        if (refusal is null)
        {
            Assert.Null(why);
        }
        else
        {
            Assert.Contains(refusal, why);
        }
    }

    [Fact]
    public void AProcessIdentityIsItsEffectiveIdsAndGroups()
    {
        var user = Monitor.ProcessIdentity.Parse("Name:\tsh\nUid:\t1000\t1001\t1002\t1003\nGid:\t50\t51\t52\t53\nGroups:\t51 100 3000 \nVmRSS:\t1 kB\n");
        Assert.NotNull(user);
        Assert.Equal((1001u, 51u), (user.Uid, user.Gid));
        Assert.Equal([51u, 100u, 3000u], user.Groups);
        Assert.Empty(Monitor.ProcessIdentity.Parse("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n")!.Groups);
        Assert.Null(Monitor.ProcessIdentity.Parse("Name:\tgone\n"));
    }

    [Fact]
    public void LookPathFollowsTheContainerPath()
    {
        var present = new HashSet<string> { "/usr/bin/sh", "/bin/sh", "/opt/tool" };
        Assert.Equal("/usr/bin/sh", PathResolver.LookPath("sh", "/usr/local/bin:/usr/bin:/bin", present.Contains));
        Assert.Equal("/bin/sh", PathResolver.LookPath("sh", "/bin", present.Contains));
        Assert.Equal("/opt/tool", PathResolver.LookPath("/opt/tool", "/bin", present.Contains));
        Assert.Null(PathResolver.LookPath("/opt/missing", "/bin", present.Contains));
        Assert.Null(PathResolver.LookPath("nothere", "/usr/bin:/bin", present.Contains));
        Assert.Equal("/bin/sh", PathResolver.LookPath("sh", null, s => s == "/bin/sh"));
        Assert.Equal("/x", PathResolver.GetEnv(["PATH=/a", "PATHS=/b", "PATH=/x"], "PATH"));
        Assert.Null(PathResolver.GetEnv(["HOME=/"], "PATH"));
    }

    [Fact]
    public void SecureJoinKeepsSymlinksInsideTheRoot()
    {
        Directory.CreateDirectory(Path.Combine(_root, "usr/lib"));
        File.CreateSymbolicLink(Path.Combine(_root, "lib"), "usr/lib");
        File.CreateSymbolicLink(Path.Combine(_root, "escape"), "/etc");
        File.CreateSymbolicLink(Path.Combine(_root, "up"), "../../../..");
        Assert.Equal(_root + "/usr/lib/x", PathResolver.SecureJoin(_root, "/lib/x"));
        Assert.Equal(_root + "/etc/passwd", PathResolver.SecureJoin(_root, "/escape/passwd"));
        Assert.Equal(_root + "/tmp", PathResolver.SecureJoin(_root, "/up/tmp"));
        Assert.Equal(_root + "/a/b", PathResolver.SecureJoin(_root, "/../a/./b"));
        Assert.Equal(_root, PathResolver.SecureJoin(_root, "/"));
    }

    [Fact]
    public void MountDestinationsResolvingToTheRootAreRefused()
    {
        Directory.CreateDirectory(Path.Combine(_root, "data"));
        File.CreateSymbolicLink(Path.Combine(_root, "hostroot"), "/");
        File.CreateSymbolicLink(Path.Combine(_root, "parent"), "..");
        File.CreateSymbolicLink(Path.Combine(_root, "chain"), "hostroot");
        File.CreateSymbolicLink(Path.Combine(_root, "tmp"), "/data");

        Assert.Equal(_root + "/data", PathResolver.MountDestination(_root, "/data"));
        Assert.Equal(_root + "/data", PathResolver.MountDestination(_root + "/", "/tmp"));
        Assert.Equal(_root + "/data/x", PathResolver.MountDestination(_root, "/hostroot/data/x"));
        foreach (string destination in new[] { "/", "/hostroot", "/parent", "/chain/", "/data/..", "/./" })
        {
            var refused = Assert.Throws<InvalidSpecException>(() => PathResolver.MountDestination(_root, destination));
            Assert.Equal($"mount destination {destination} resolves to the container's root directory", refused.Message);
        }
        var relative = Assert.Throws<InvalidSpecException>(() => PathResolver.MountDestination(_root, "data"));
        Assert.Equal("mount destination data is not absolute", relative.Message);
    }

    [Fact]
    public void CapabilityAndRlimitNames()
    {
        Assert.True(CapabilityNames.TryParse("CAP_SYS_ADMIN", out int admin));
        Assert.Equal(21, admin);
        Assert.True(CapabilityNames.TryParse("NET_RAW", out int raw));
        Assert.Equal(13, raw);
        var unknown = new List<string>();
        Assert.Equal((1UL << 0) | (1UL << 5), CapabilityNames.ToMask(["CAP_CHOWN", "CAP_KILL", "CAP_BOGUS"], unknown));
        Assert.Equal(["CAP_BOGUS"], unknown);
        Assert.True(RlimitNames.TryParse("RLIMIT_NOFILE", out int nofile));
        Assert.Equal(7, nofile);
        Assert.False(RlimitNames.TryParse("RLIMIT_BOGUS", out _));
    }

    [Fact]
    public void MakeDevMatchesGlibc()
    {
        Assert.Equal(0x103UL, Interop.Sys.MakeDev(1, 3));
        Assert.Equal(0x500UL, Interop.Sys.MakeDev(5, 0));
        Assert.Equal(0xae5UL + 0, Interop.Sys.MakeDev(10, 229));
    }
}
