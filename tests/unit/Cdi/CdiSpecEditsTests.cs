using Berth.Api.Shim;
using Berth.RuntimeService.Cdi;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;

namespace Berth.Tests.Unit.Cdi;

public sealed class CdiSpecEditsTests
{
    private static OciSpec Base(uint uid = 0, uint gid = 0) => Build(Container()) is var spec
        ? spec with { Process = spec.Process! with { User = new OciUser { Uid = uid, Gid = gid, AdditionalGids = gid > 0 ? [gid] : null } } }
        : throw new InvalidOperationException();

    private static OciSpec Apply(OciSpec spec, CdiContainerEdits edits) => CdiSpecEdits.Apply(spec, [new CdiEditSet("CDI device vendor.com/x=y (/etc/cdi/x.json)", edits)], Resolve);

    /// <summary>The pretend host: its device nodes, and every other path but those under /dev and /missing exists as a plain file or directory.</summary>
    private static DeviceLookup Resolve(string path) =>
        ResolveDevice(path) is { Exists: true } found ? found
        : path.StartsWith("/dev/", StringComparison.Ordinal) || path.StartsWith("/missing", StringComparison.Ordinal) ? DeviceLookup.Missing
        : DeviceLookup.NotADevice;

    [Fact]
    public void ADeviceNodeTakesWhatItDoesNotSayFromTheHostNode()
    {
        var spec = Apply(Base(), new CdiContainerEdits { DeviceNodes = [new CdiDeviceNode { Path = "/dev/fuse-in-here", HostPath = "/dev/fuse" }] });

        Assert.Equal(new LinuxDevice { Path = "/dev/fuse-in-here", Type = "c", Major = 10, Minor = 229, FileMode = 0x1B6 }, spec.Linux!.Devices![^1]);
        Assert.Equal(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 10, Minor = 229, Access = "rwm" }, spec.Linux.Resources!.Devices![^1]);
    }

    [Fact]
    public void ANodeThatSaysEnoughNeedsNoHostNodeAndTakesTheProcesssIds()
    {
        var spec = Apply(Base(uid: 1000, gid: 2000), new CdiContainerEdits
        {
            DeviceNodes = [new CdiDeviceNode { Path = "/dev/vendor0", Type = "c", Major = 240, Minor = 3, Permissions = "rw", Gid = 44 }],
        });

        Assert.Equal(new LinuxDevice { Path = "/dev/vendor0", Type = "c", Major = 240, Minor = 3, Uid = 1000, Gid = 44 }, spec.Linux!.Devices![^1]);
        Assert.Equal(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 240, Minor = 3, Access = "rw" }, spec.Linux.Resources!.Devices![^1]);
    }

    [Fact]
    public void PermissionsNoneAddsTheNodeWithoutARule()
    {
        var before = Base();
        var spec = Apply(before, new CdiContainerEdits { DeviceNodes = [new CdiDeviceNode { Path = "/dev/vda", Permissions = "none" }] });

        Assert.Equal("/dev/vda", spec.Linux!.Devices![^1].Path);
        Assert.Equal(before.Linux!.Resources!.Devices!.Count, spec.Linux.Resources!.Devices!.Count);
    }

    [Theory]
    [InlineData("/dev/berth-missing", null, "host device /dev/berth-missing does not exist on this node")]
    [InlineData(NotADevice, null, "host device /etc/hostname is not a device node")]
    [InlineData("/dev/fuse", "b", "has type b, but /dev/fuse is of type c")]
    public void AHostNodeThatDoesNotFitIsRefusedNamingTheDevice(string hostPath, string? type, string expected)
    {
        var error = Assert.Throws<SpecException>(() => Apply(Base(), new CdiContainerEdits { DeviceNodes = [new CdiDeviceNode { Path = "/dev/x", HostPath = hostPath, Type = type }] }));

        Assert.StartsWith("CDI device vendor.com/x=y (/etc/cdi/x.json): ", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void EnvironmentReplacesInPlaceOrAppends()
    {
        var spec = Apply(Base(), new CdiContainerEdits { Env = ["NGINX_VERSION=cdi", "VENDOR=1"] });

        var env = spec.Process!.Env!;
        Assert.Contains("NGINX_VERSION=cdi", env);
        Assert.DoesNotContain("NGINX_VERSION=1.27", env);
        Assert.Equal("VENDOR=1", env[^1]);
    }

    [Fact]
    public void MountsReplaceTheSameDestinationAndAreOrderedByDepth()
    {
        var before = Base();
        var spec = Apply(before, new CdiContainerEdits
        {
            Mounts =
            [
                new CdiMount { HostPath = "/usr/lib/vendor", ContainerPath = "/usr/lib/vendor", Options = ["ro", "nosuid", "bind"] },
                new CdiMount { HostPath = "/opt/vendor", ContainerPath = "/etc/hostname" },
            ],
        });

        var mounts = spec.Mounts!;
        Assert.Equal(before.Mounts!.Count + 1, mounts.Count);
        var replaced = Assert.Single(mounts, mount => mount.Destination == "/etc/hostname");
        Assert.Equal(("bind", "/opt/vendor"), (replaced.Type, replaced.Source));
        Assert.Equal(["rbind"], replaced.Options!);
        Assert.Equal(["ro", "nosuid", "bind"], Assert.Single(mounts, mount => mount.Destination == "/usr/lib/vendor").Options);
        var depths = mounts.Select(mount => mount.Destination.Count(c => c == '/')).ToList();
        Assert.Equal(depths.Order(), depths);
        Assert.True(mounts.ToList().FindIndex(m => m.Destination == "/dev") < mounts.ToList().FindIndex(m => m.Destination == "/dev/pts"));
    }

    [Fact]
    public void ABindMountWhoseHostPathIsMissingIsRefusedNamingTheDeviceAndThePath()
    {
        var error = Assert.Throws<SpecException>(() => Apply(Base(), new CdiContainerEdits
        {
            Mounts = [new CdiMount { HostPath = "/missing/libvendor.so", ContainerPath = "/usr/lib/libvendor.so", Options = ["ro", "bind"] }],
        }));

        Assert.Equal(Berth.Core.Errors.ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal("CDI device vendor.com/x=y (/etc/cdi/x.json): mount hostPath /missing/libvendor.so (for /usr/lib/libvendor.so) does not exist on this node",
            error.Message);
        // Not a bind: the source is no host path, and nothing is looked up.
        Apply(Base(), new CdiContainerEdits { Mounts = [new CdiMount { HostPath = "tmpfs", ContainerPath = "/scratch", Type = "tmpfs" }] });
    }

    [Fact]
    public void AdditionalGroupsAreAddedOnceWithoutRoot()
    {
        var spec = Apply(Base(uid: 1000, gid: 1000), new CdiContainerEdits { AdditionalGids = [0, 44, 1000, 44] });

        Assert.Equal([1000u, 44u], spec.Process!.User.AdditionalGids!);
    }

    [Fact]
    public void HooksJoinTheSpecsListOfTheirNameInOrder()
    {
        var before = Base() with { Hooks = new OciHooks { CreateContainer = [new OciHook { Path = "/usr/bin/own" }] } };
        var spec = CdiSpecEdits.Apply(before,
        [
            new CdiEditSet("CDI spec /etc/cdi/x.json", new CdiContainerEdits { Hooks = [new CdiHook { HookName = "createContainer", Path = "/usr/bin/vendor-hook", Args = ["vendor-hook", "create-symlinks"], Env = ["A=1"], Timeout = 5 }] }),
            new CdiEditSet("CDI device vendor.com/x=y (/etc/cdi/x.json)", new CdiContainerEdits { Hooks = [new CdiHook { HookName = "poststop", Path = "/usr/bin/cleanup" }, new CdiHook { HookName = "startContainer", Path = "/in/the/container" }] }),
        ], Resolve);

        Assert.Equal(["/usr/bin/own", "/usr/bin/vendor-hook"], spec.Hooks!.CreateContainer!.Select(hook => hook.Path));
        var vendor = spec.Hooks.CreateContainer![1];
        Assert.Equal(["vendor-hook", "create-symlinks"], vendor.Args!);
        Assert.Equal(["A=1"], vendor.Env!);
        Assert.Equal(5, vendor.Timeout);
        Assert.Equal("/usr/bin/cleanup", Assert.Single(spec.Hooks.Poststop!).Path);
        // A startContainer hook runs in the container's root: no host path is looked up for it.
        Assert.Equal("/in/the/container", Assert.Single(spec.Hooks.StartContainer!).Path);
        Assert.Null(spec.Hooks.CreateRuntime);
        Assert.Null(Apply(Base(), new CdiContainerEdits { Env = ["A=1"] }).Hooks);
    }

    [Theory]
    [InlineData("/missing/hook", null, "createContainer hook /missing/hook does not exist on this node")]
    [InlineData("hook", null, "createContainer hook path \"hook\" is not an absolute host path")]
    [InlineData("/usr/bin/vendor-hook", 0, "has timeout 0; it must be 1 to 120 seconds")]
    [InlineData("/usr/bin/vendor-hook", 2147483647, "has timeout 2147483647; it must be 1 to 120 seconds")]
    public void AHookThatCannotRunIsRefusedNamingTheDeviceAndThePath(string path, int? timeout, string expected)
    {
        var error = Assert.Throws<SpecException>(() => Apply(Base(), new CdiContainerEdits
        {
            Hooks = [new CdiHook { HookName = "createContainer", Path = path, Timeout = timeout }],
        }));

        Assert.StartsWith("CDI device vendor.com/x=y (/etc/cdi/x.json): ", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData("intelRdt", "sets intelRdt")]
    [InlineData("netDevices", "netDevices")]
    public void WhatTheShimCannotHonourIsRefusedNotIgnored(string what, string expected)
    {
        var edits = what switch
        {
            "intelRdt" => new CdiContainerEdits { IntelRdt = System.Text.Json.JsonDocument.Parse("""{"closID": "gold"}""").RootElement },
            _ => new CdiContainerEdits { NetDevices = [System.Text.Json.JsonDocument.Parse("""{"hostInterfaceName": "eth1", "name": "net1"}""").RootElement] },
        };

        Assert.Contains(expected, Assert.Throws<SpecException>(() => Apply(Base(), edits)).Message);
    }

    [Fact]
    public void ANodeOnABindMountIsRefused() =>
        Assert.Contains("bind mount", Assert.Throws<SpecException>(() => Apply(Base(), new CdiContainerEdits
        {
            Mounts = [new CdiMount { HostPath = "/srv/dev", ContainerPath = "/vendor" }],
            DeviceNodes = [new CdiDeviceNode { Path = "/vendor/dev0", HostPath = "/dev/fuse" }],
        })).Message);
}
