using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;

namespace Berth.Tests.Unit.Specs;

public sealed class ContainerDevicesTests
{
    private static ContainerConfig WithDevice(string hostPath, string containerPath, string permissions)
    {
        var container = Container();
        container.Devices.Add(new Device { HostPath = hostPath, ContainerPath = containerPath, Permissions = permissions });
        return container;
    }

    [Fact]
    public void DefaultRulesDenyAllThenAllowRuncsStandardDevices()
    {
        var rules = Build(Container()).Linux!.Resources!.Devices!;
        Assert.Equal(new LinuxDeviceCgroup { Allow = false, Access = "rwm" }, rules[0]);
        Assert.Contains(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwm" }, rules);   // null
        Assert.Contains(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 1, Minor = 5, Access = "rwm" }, rules);   // zero
        Assert.Contains(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 1, Minor = 7, Access = "rwm" }, rules);   // full
        Assert.Contains(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 1, Minor = 8, Access = "rwm" }, rules);   // random
        Assert.Contains(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 1, Minor = 9, Access = "rwm" }, rules);   // urandom
        Assert.Contains(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 5, Minor = 0, Access = "rwm" }, rules);   // tty
        Assert.Contains(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 5, Minor = 2, Access = "rwm" }, rules);   // ptmx
        Assert.Contains(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 136, Access = "rwm" }, rules);            // pts
        Assert.Contains(new LinuxDeviceCgroup { Allow = true, Type = "c", Access = "m" }, rules);
        Assert.Null(Build(Container()).Linux!.Devices);
    }

    [Fact]
    public void ConfiguredDeviceIsCreatedAndAllowed()
    {
        var spec = Build(WithDevice("/dev/fuse", "/dev/fuse", "rw"));
        var node = Assert.Single(spec.Linux!.Devices!);
        Assert.Equal(new LinuxDevice { Path = "/dev/fuse", Type = "c", Major = 10, Minor = 229, FileMode = 0x1B6, Uid = 0, Gid = 0 }, node);
        Assert.Equal(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 10, Minor = 229, Access = "rw" }, spec.Linux.Resources!.Devices![^1]);
    }

    [Fact]
    public void DeviceMayAppearUnderAnotherNameAndDefaultsToRwm()
    {
        var spec = Build(WithDevice("/dev/disk/by-id/virtio-root", "/dev/xvda", ""));
        var node = Assert.Single(spec.Linux!.Devices!);
        Assert.Equal(("/dev/xvda", "b", 253L, 0L), (node.Path, node.Type, node.Major, node.Minor));
        Assert.Equal("rwm", spec.Linux.Resources!.Devices![^1].Access);
    }

    [Fact]
    public void MissingDeviceIsRefusedByName()
    {
        Assert.Contains("/dev/nvidia0", Refused(Input(WithDevice("/dev/nvidia0", "/dev/nvidia0", "rwm"))).Message);
    }

    [Theory]
    [InlineData("rwx")]
    [InlineData("rr")]
    public void BadPermissionsAreRefused(string permissions)
    {
        Assert.Contains("permissions", Refused(Input(WithDevice("/dev/fuse", "/dev/fuse", permissions))).Message);
    }

    [Fact]
    public void RelativeDevicePathsAreRefused()
    {
        Refused(Input(WithDevice("dev/fuse", "/dev/fuse", "rwm")));
        Refused(Input(WithDevice("/dev/fuse", "dev/fuse", "rwm")));
    }

    [Fact]
    public void PrivilegedMayUseEveryDevice()
    {
        var container = WithDevice("/dev/fuse", "/dev/fuse", "rwm");
        container.Linux.SecurityContext.Privileged = true;
        var pod = Pod();
        pod.Linux.SecurityContext.Privileged = true;
        var spec = Build(Input(container, pod));
        Assert.Equal([new LinuxDeviceCgroup { Allow = true, Access = "rwm" }], spec.Linux!.Resources!.Devices);
        Assert.Single(spec.Linux.Devices!);
    }

    private static readonly HostDevice[] s_hostDevices =
    [
        new("/dev/null", new DeviceNumber(1, 3, 'c', 0x1B6, 0, 0)),
        new("/dev/loop-control", new DeviceNumber(10, 237, 'c', 0x1B0, 0, 6)),
        new("/dev/fuse", new DeviceNumber(10, 229, 'c', 0x1B6, 0, 0)),
        new("/dev/vda", new DeviceNumber(254, 0, 'b', 0x1B0, 0, 6)),
        new("/dev/data/disk", new DeviceNumber(254, 1, 'b', 0x1B0, 0, 6)),
    ];

    private static OciSpec BuildPrivileged(ContainerConfig container)
    {
        container.Linux.SecurityContext.Privileged = true;
        var pod = Pod();
        pod.Linux.SecurityContext.Privileged = true;
        return Build(Input(container, pod) with { HostDevices = () => s_hostDevices });
    }

    [Fact]
    public void APrivilegedContainerGetsEveryHostDeviceAsContainerdGivesIt()
    {
        var spec = BuildPrivileged(Container());
        Assert.Equal(s_hostDevices.Select(device => device.Path), spec.Linux!.Devices!.Select(node => node.Path));
        Assert.Contains(new LinuxDevice { Path = "/dev/loop-control", Type = "c", Major = 10, Minor = 237, FileMode = 0x1B0, Uid = 0, Gid = 6 }, spec.Linux.Devices!);
        Assert.Equal([new LinuxDeviceCgroup { Allow = true, Access = "rwm" }], spec.Linux.Resources!.Devices);
    }

    [Fact]
    public void AnUnprivilegedContainerGetsNoHostDevice()
    {
        Assert.Null(Build(Input(Container()) with { HostDevices = () => s_hostDevices }).Linux!.Devices);
    }

    [Fact]
    public void KubeletsDeviceReplacesTheHostNodeAtItsPathAndBindsKeepTheirOwn()
    {
        var container = WithDevice("/dev/vda", "/dev/fuse", "rw");
        container.Mounts.Add(new Mount { ContainerPath = "/dev/data", HostPath = "/srv/data" });
        var nodes = BuildPrivileged(container).Linux!.Devices!;
        var fuse = Assert.Single(nodes, node => node.Path == "/dev/fuse");
        Assert.Equal(("b", Devices["/dev/vda"].Major), (fuse.Type, fuse.Major));
        Assert.DoesNotContain(nodes, node => node.Path == "/dev/data/disk");
    }

    [Theory]
    [InlineData("/dev", "null", 'c', true)]
    [InlineData("/dev", "vda", 'b', true)]
    [InlineData("/dev/input", "event0", 'c', true)]
    [InlineData("/dev", "console", 'c', false)]
    [InlineData("/dev", "ptmx", 'c', false)]
    [InlineData("/dev/net", "ptmx", 'c', true)]
    [InlineData("/dev", "initctl", 'p', false)]
    public void HostNodesLeaveOutWhatContainerdLeavesOut(string directory, string name, char type, bool kept)
    {
        Assert.Equal(kept, ContainerDevices.IsHostDevice(directory, name, type));
        Assert.Subset(ContainerDevices.SkippedHostDirectories.ToHashSet(), new HashSet<string> { "pts", "shm", "fd", "mqueue", ".udev" });
    }

    [Theory]
    [InlineData("/data/f", "/data")]
    [InlineData("/data", "/data")]
    [InlineData("/dev/shm/disk", "/dev/shm")]
    public void ADeviceOnABindMountIsRefusedSoItCannotReplaceAHostFile(string containerPath, string mount)
    {
        var container = WithDevice("/dev/vda", containerPath, "rw");
        container.Mounts.Add(new Mount { ContainerPath = "/data", HostPath = "/srv/data" });
        Assert.Contains($"would be made on the bind mount at {mount}", Refused(Input(container)).Message);
    }

    [Fact]
    public void ADeviceBesideABindMountIsMade()
    {
        var container = WithDevice("/dev/vda", "/data-disk", "rw");
        container.Mounts.Add(new Mount { ContainerPath = "/data", HostPath = "/srv/data" });
        Assert.Equal("/data-disk", Assert.Single(Build(container).Linux!.Devices!).Path);
    }
}
