using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;

namespace Berth.Tests.Unit.Specs;

public sealed class ContainerMountsTests
{
    private static OciMount At(OciSpec spec, string destination) => Assert.Single(spec.Mounts!, mount => mount.Destination == destination);

    private static ContainerConfig WithMounts(params Mount[] mounts)
    {
        var container = Container();
        container.Mounts.AddRange(mounts);
        return container;
    }

    [Fact]
    public void DefaultsComeFirstInContainerdsOrderThenThePodFiles()
    {
        var spec = Build(Container());
        Assert.Equal(
            ["/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/dev/shm", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname"],
            spec.Mounts!.Select(mount => mount.Destination));
        Assert.Equal(["nosuid", "strictatime", "mode=755", "size=65536k"], At(spec, "/dev").Options);
        Assert.Equal(["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"], At(spec, "/dev/pts").Options);
        Assert.Equal("proc", At(spec, "/proc").Type);
        Assert.Equal("mqueue", At(spec, "/dev/mqueue").Type);
    }

    [Fact]
    public void PodFilesAreBindsOfTheSandboxsFiles()
    {
        var spec = Build(Container());
        Assert.Equal(Files.ShmPath, At(spec, "/dev/shm").Source);
        Assert.Equal(Files.HostsPath, At(spec, "/etc/hosts").Source);
        Assert.Equal(Files.ResolvConfPath, At(spec, "/etc/resolv.conf").Source);
        Assert.Equal(Files.HostnamePath, At(spec, "/etc/hostname").Source);
        Assert.Equal(["rbind", "rprivate", "rw"], At(spec, "/etc/hosts").Options);
        Assert.Equal("bind", At(spec, "/etc/hosts").Type);
    }

    [Fact]
    public void ReadonlyRootfsMakesThePodFilesReadOnlyButNotShm()
    {
        var container = Container();
        container.Linux.SecurityContext.ReadonlyRootfs = true;
        var spec = Build(container);
        Assert.Contains("ro", At(spec, "/etc/hosts").Options!);
        Assert.Contains("ro", At(spec, "/etc/resolv.conf").Options!);
        Assert.Contains("ro", At(spec, "/etc/hostname").Options!);
        Assert.Contains("rw", At(spec, "/dev/shm").Options!);
    }

    [Fact]
    public void HostIpcUsesTheHostsShm()
    {
        var pod = Pod();
        pod.Linux.SecurityContext.NamespaceOptions.Ipc = NamespaceMode.Node;
        Assert.Equal("/dev/shm", At(Build(Input(pod: pod)), "/dev/shm").Source);
    }

    [Fact]
    public void SysAndCgroupAreReadOnlyUnlessPrivileged()
    {
        var spec = Build(Container());
        Assert.Contains("ro", At(spec, "/sys").Options!);
        Assert.Contains("ro", At(spec, "/sys/fs/cgroup").Options!);

        var container = Container();
        container.Linux.SecurityContext.Privileged = true;
        var pod = Pod();
        pod.Linux.SecurityContext.Privileged = true;
        var privileged = Build(Input(container, pod));
        Assert.Contains("rw", At(privileged, "/sys").Options!);
        Assert.Contains("rw", At(privileged, "/sys/fs/cgroup").Options!);
    }

    [Theory]
    [InlineData(MountPropagation.PropagationPrivate, "rprivate", null)]
    [InlineData(MountPropagation.PropagationHostToContainer, "rslave", "rslave")]
    [InlineData(MountPropagation.PropagationBidirectional, "rshared", "rshared")]
    public void PropagationMapsAndRaisesTheRootsPropagation(MountPropagation propagation, string option, string? rootfs)
    {
        var spec = Build(WithMounts(new Mount { ContainerPath = "/data", HostPath = "/var/lib/kubelet/pods/x/volumes/data", Propagation = propagation }));
        Assert.Equal(["rbind", option, "rw"], At(spec, "/data").Options);
        Assert.Equal(rootfs, spec.Linux!.RootfsPropagation);
    }

    [Fact]
    public void SharedWinsOverSlaveForTheRoot()
    {
        var spec = Build(WithMounts(
            new Mount { ContainerPath = "/a", HostPath = "/h/a", Propagation = MountPropagation.PropagationBidirectional },
            new Mount { ContainerPath = "/b", HostPath = "/h/b", Propagation = MountPropagation.PropagationHostToContainer }));
        Assert.Equal("rshared", spec.Linux!.RootfsPropagation);
    }

    [Fact]
    public void ReadonlyAndRecursiveReadonly()
    {
        var spec = Build(WithMounts(
            new Mount { ContainerPath = "/ro", HostPath = "/h/ro", Readonly = true },
            new Mount { ContainerPath = "/rro", HostPath = "/h/rro", Readonly = true, RecursiveReadOnly = true }));
        Assert.Equal(["rbind", "rprivate", "ro"], At(spec, "/ro").Options);
        Assert.Equal(["rbind", "rprivate", "ro", "rro"], At(spec, "/rro").Options);
    }

    [Fact]
    public void RecursiveReadonlyNeedsReadonlyAndPrivatePropagation()
    {
        Refused(Input(WithMounts(new Mount { ContainerPath = "/x", HostPath = "/h", RecursiveReadOnly = true })));
        Refused(Input(WithMounts(new Mount
        {
            ContainerPath = "/x", HostPath = "/h", Readonly = true, RecursiveReadOnly = true,
            Propagation = MountPropagation.PropagationHostToContainer,
        })));
    }

    [Fact]
    public void ExtraMountOptionsThatOnlyRestrictAreAdded()
    {
        var mount = new Mount { ContainerPath = "/x", HostPath = "/h" };
        mount.MountOptions.AddRange(["noexec", "nosuid"]);
        Assert.Equal(["rbind", "rprivate", "rw", "noexec", "nosuid"], At(Build(WithMounts(mount)), "/x").Options);

        var widening = new Mount { ContainerPath = "/x", HostPath = "/h" };
        widening.MountOptions.Add("suid");
        Assert.Contains("suid", Refused(Input(WithMounts(widening))).Message);
    }

    [Theory]
    [InlineData("/etc/hosts")]
    [InlineData("/etc/resolv.conf")]
    [InlineData("/etc/hostname")]
    [InlineData("/dev/shm")]
    [InlineData("/etc//hosts/")]
    public void AKubeletMountReplacesThePodFile(string containerPath)
    {
        var spec = Build(WithMounts(new Mount { ContainerPath = containerPath, HostPath = "/var/lib/kubelet/pods/x/etc-hosts" }));
        string cleaned = containerPath == "/etc//hosts/" ? "/etc/hosts" : containerPath;
        Assert.Equal("/var/lib/kubelet/pods/x/etc-hosts", At(spec, cleaned).Source);
    }

    [Fact]
    public void MountsAreSortedParentsFirstKeepingOrderAtEqualDepth()
    {
        var spec = Build(WithMounts(
            new Mount { ContainerPath = "/var/lib/app/cache", HostPath = "/h/cache" },
            new Mount { ContainerPath = "/dev/termination-log", HostPath = "/h/termination-log" },
            new Mount { ContainerPath = "/var/lib", HostPath = "/h/lib" },
            new Mount { ContainerPath = "/data", HostPath = "/h/data" }));
        Assert.Equal(
            ["/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup",
             "/data",
             "/dev/shm", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/dev/termination-log", "/var/lib",
             "/var/lib/app/cache"],
            spec.Mounts!.Select(mount => mount.Destination));
    }

    [Fact]
    public void AKubeletMountOnDevReplacesTheDevDefaults()
    {
        var spec = Build(WithMounts(new Mount { ContainerPath = "/dev", HostPath = "/dev" }));
        var destinations = spec.Mounts!.Select(mount => mount.Destination).ToList();
        Assert.DoesNotContain("/dev/pts", destinations);
        Assert.DoesNotContain("/dev/mqueue", destinations);
        Assert.Equal("bind", At(spec, "/dev").Type);
        Assert.Contains("/dev/shm", destinations);
    }

    [Fact]
    public void ImageVolumesAreNotMounted()
    {
        var spec = Build(Input(image: Image(volumes: ["/var/cache/nginx"])));
        Assert.DoesNotContain(spec.Mounts!, mount => mount.Destination == "/var/cache/nginx");
    }

    [Theory]
    [InlineData("data", "/h")]
    [InlineData("/data", "h")]
    [InlineData("/data", "")]
    public void RelativePathsAreRefused(string containerPath, string hostPath)
    {
        var error = Refused(Input(WithMounts(new Mount { ContainerPath = containerPath, HostPath = hostPath })));
        Assert.Contains("absolute", error.Message);
    }

    [Fact]
    public void DuplicateDestinationsAreRefused()
    {
        Refused(Input(WithMounts(
            new Mount { ContainerPath = "/data", HostPath = "/h/1" },
            new Mount { ContainerPath = "/data/", HostPath = "/h/2" })));
    }

    [Fact]
    public void IdMappedAndImageVolumeMountsAreRefused()
    {
        var idmapped = new Mount { ContainerPath = "/data", HostPath = "/h" };
        idmapped.UidMappings.Add(new IDMapping { ContainerId = 0, HostId = 100000, Length = 65536 });
        Assert.Contains("id-mapp", Refused(Input(WithMounts(idmapped))).Message);
        var imageVolume = new Mount { ContainerPath = "/models", Image = new ImageSpec { Image = "models:1" } };
        Assert.Contains("image volume", Refused(Input(WithMounts(imageVolume))).Message);
    }

    [Theory]
    [InlineData("/proc/sys/kernel/core_pattern")]
    [InlineData("/proc/self/attr/current")]
    [InlineData("/proc/sys")]
    [InlineData("/proc/1/root")]
    public void NoMountGoesInsideProc(string containerPath)
    {
        var error = Refused(Input(WithMounts(new Mount { ContainerPath = containerPath, HostPath = "/tmp/x" })));
        Assert.Contains($"mount {containerPath} is inside /proc", error.Message);
    }

    [Theory]
    [InlineData("/proc/cpuinfo")]
    [InlineData("/proc/meminfo")]
    [InlineData("/proc/sys/kernel/ns_last_pid")]
    [InlineData("/sys/devices/system/cpu/online")]
    public void LxcfsFilesMayBeMountedOver(string containerPath)
    {
        Assert.Equal("bind", At(Build(WithMounts(new Mount { ContainerPath = containerPath, HostPath = "/var/lib/lxcfs" + containerPath })), containerPath).Type);
    }

    [Fact]
    public void OnlyTheHostsProcGoesOnProc()
    {
        Assert.Contains("only the host's /proc", Refused(Input(WithMounts(new Mount { ContainerPath = "/proc", HostPath = "/tmp/fake" }))).Message);
        Assert.Equal("/proc", At(Build(WithMounts(new Mount { ContainerPath = "/proc", HostPath = "/proc" })), "/proc").Source);
    }

    [Fact]
    public void InsideSysOnlyAPrivilegedContainerMounts()
    {
        var mount = new Mount { ContainerPath = "/sys/fs/bpf", HostPath = "/sys/fs/bpf" };
        Assert.Contains("inside /sys", Refused(Input(WithMounts(mount))).Message);

        var container = WithMounts(mount);
        container.Linux.SecurityContext.Privileged = true;
        var pod = Pod();
        pod.Linux.SecurityContext.Privileged = true;
        Assert.Equal("bind", At(Build(Input(container, pod)), "/sys/fs/bpf").Type);
        // /sys itself is no kernel file: a node agent's hostPath of /sys there is kubelet's and the pod's business.
        Assert.Equal("bind", At(Build(WithMounts(new Mount { ContainerPath = "/sys", HostPath = "/sys" })), "/sys").Type);
    }
}
