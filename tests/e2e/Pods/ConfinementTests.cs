using System.Diagnostics;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

/// <summary>
/// The hostile requests of issue 11, each tried as a user would: what would reach the host (a device
/// node over a host file, a mount over a kernel file, a write to a cgroup's core files, a mount sent
/// out of the root by a link) is refused or confined, and the host is checked to be untouched.
/// </summary>
public sealed class ConfinementTests(SecurityImages images) : IClassFixture<SecurityImages>
{
    /// <summary>A whole disk of this node that this test may open itself (some machines forbid their root disk even to root): "MAJOR MINOR".</summary>
    private static string OpenableHostDisk() => Directory.GetDirectories("/sys/dev/block")
        .Where(device => !File.Exists(device + "/partition") && !Path.GetFileName(device).StartsWith("7:", StringComparison.Ordinal))
        .First(device =>
        {
            try
            {
                File.OpenRead("/dev/" + File.ReadAllLines(device + "/uevent").First(line => line.StartsWith("DEVNAME=", StringComparison.Ordinal))[8..]).Dispose();
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        })
        .Split('/')[^1]
        .Replace(':', ' ');

    [Fact]
    public Task ARootContainerMayMakeANodeWithTheHostDisksNumbersButNotOpenIt() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(images.Image, "mknod", "sleep", "300"));
        await berth.StartContainerAsync(id);
        // CAP_MKNOD is in the default set, and runc's rules allow mknod of any node: only opening it is refused.
        string output = await berth.ShellAsync(id, $"mknod /tmp/disk b {OpenableHostDisk()} && echo made; head -c 512 /tmp/disk > /dev/null && echo read-it");
        Assert.Contains("made", output);
        Assert.Contains("head: /tmp/disk: Operation not permitted", output);
        Assert.DoesNotContain("read-it", output);
    });

    [Fact]
    public Task ADeviceNodeNeverReplacesAHostFileThroughABindMountNorThroughAnImagesLink() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        string volume = Path.Combine(berth.TemporaryDirectory, "volume");
        Directory.CreateDirectory(volume);
        string hostFile = Path.Combine(volume, "f");
        File.WriteAllText(hostFile, "the host's file\n");
        var direct = ContainerConfig(images.Image, "direct", "true");
        direct.Mounts.Add(new Mount { ContainerPath = "/data", HostPath = volume });
        direct.Devices.Add(new Device { HostPath = "/dev/null", ContainerPath = "/data/f", Permissions = "rw" });
        var error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, direct));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("device /data/f would be made on the bind mount at /data", error.Status.Detail);

        // The image's /data-link points at /data, where the volume is: spec generation cannot see that, the shim can.
        var linked = ContainerConfig(images.Image, "linked", "true");
        linked.Mounts.Add(new Mount { ContainerPath = "/data", HostPath = volume });
        linked.Devices.Add(new Device { HostPath = "/dev/null", ContainerPath = "/data-link/f", Permissions = "rw" });
        error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, linked));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("not the container's own file system", error.Status.Detail);

        Assert.Equal("the host's file\n", File.ReadAllText(hostFile));
        Assert.Equal(["f"], Directory.GetFileSystemEntries(volume).Select(Path.GetFileName));
        Assert.Empty((await berth.Runtime.ListContainersAsync(new ListContainersRequest())).Containers);
    });

    [Fact]
    public Task NothingIsMountedOverAKernelFileInProcDirectlyOrThroughAnImagesLink() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        string fake = Path.Combine(berth.TemporaryDirectory, "core_pattern");
        File.WriteAllText(fake, "|/tmp/evil\n");
        string before = File.ReadAllText("/proc/sys/kernel/core_pattern");
        var direct = ContainerConfig(images.Image, "direct", "true");
        direct.Mounts.Add(new Mount { ContainerPath = "/proc/sys/kernel/core_pattern", HostPath = fake });
        var error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, direct));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("mount /proc/sys/kernel/core_pattern is inside /proc", error.Status.Detail);

        // The image's /kernel is a link to /proc/sys/kernel.
        var linked = ContainerConfig(images.Image, "linked", "true");
        linked.Mounts.Add(new Mount { ContainerPath = "/kernel/core_pattern", HostPath = fake });
        error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, linked));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("resolves to /proc/sys/kernel/core_pattern through a symbolic link in the image", error.Status.Detail);

        // lxcfs's files may be covered, as runc allows.
        var lxcfs = ContainerConfig(images.Image, "lxcfs", "sleep", "300");
        lxcfs.Mounts.Add(new Mount { ContainerPath = "/proc/uptime", HostPath = fake, Readonly = true });
        var id = await berth.CreateContainerAsync(podId, pod, lxcfs);
        await berth.StartContainerAsync(id);
        Assert.Equal("|/tmp/evil\n", await berth.ShellAsync(id, "cat /proc/uptime"));
        Assert.Equal(before, File.ReadAllText("/proc/sys/kernel/core_pattern"));
    });

    [Fact]
    public Task UnifiedKeysCannotMoveOrKillAProcessOfTheHost() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        // A process of the host: this test's own, never another.
        using var bystander = Process.Start(new ProcessStartInfo("sleep", "300"))!;
        try
        {
            string cgroups = File.ReadAllText($"/proc/{bystander.Id}/cgroup");
            var move = ContainerConfig(images.Image, "move", "sleep", "300");
            move.Linux = new LinuxContainerConfig { Resources = new LinuxContainerResources { Unified = { ["cgroup.procs"] = bystander.Id.ToString() } } };
            var error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, move));
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains("linux.resources.unified key \"cgroup.procs\" is a cgroup core file", error.Status.Detail);
            Assert.Equal(cgroups, File.ReadAllText($"/proc/{bystander.Id}/cgroup"));

            var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(images.Image, "running", "sleep", "300"));
            await berth.StartContainerAsync(id);
            foreach (string key in new[] { "cgroup.kill", "cgroup.procs", "cgroup.subtree_control", "cgroup.type", "cgroup.freeze" })
            {
                var update = new UpdateContainerResourcesRequest { ContainerId = id, Linux = new LinuxContainerResources { Unified = { [key] = bystander.Id.ToString() } } };
                error = await Assert.ThrowsAsync<RpcException>(async () => await berth.Runtime.UpdateContainerResourcesAsync(update));
                Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
                Assert.Contains($"\"{key}\"", error.Status.Detail);
            }
            Assert.False(bystander.HasExited);
            Assert.Equal(cgroups, File.ReadAllText($"/proc/{bystander.Id}/cgroup"));
            Assert.Equal(ContainerState.ContainerRunning, (await berth.ContainerStatusAsync(id)).State);
        }
        finally
        {
            bystander.Kill();
            await bystander.WaitForExitAsync();
        }
    });

    [Fact]
    public Task AnImagesLinkToEtcKeepsAMountInsideTheContainer() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        string volume = Path.Combine(berth.TemporaryDirectory, "marker");
        Directory.CreateDirectory(volume);
        File.WriteAllText(Path.Combine(volume, "here"), "mounted\n");
        string name = $"berth-e2e-{Guid.NewGuid():N}";
        // The image's /etc-link is "/etc": the mount lands on the container's /etc/NAME, never the host's.
        var config = ContainerConfig(images.Image, "confined", "sleep", "300");
        config.Mounts.Add(new Mount { ContainerPath = $"/etc-link/{name}", HostPath = volume });
        var id = await berth.CreateContainerAsync(podId, pod, config);
        await berth.StartContainerAsync(id);
        Assert.Equal("mounted\n", await berth.ShellAsync(id, $"cat /etc/{name}/here"));
        Assert.False(Path.Exists($"/etc/{name}"));
    });

    /// <summary>
    /// runc's CVE-2021-30465: a link swapped in a shared volume between the check of a mount
    /// destination and the mount. Here this test swaps /vol/x between a directory and a link to /etc
    /// as fast as it can while containers that mount a volume at /vol/x/NAME are created: each either
    /// gets its mount where asked, or is refused; nothing is ever made or mounted in the host's /etc.
    /// </summary>
    [Fact]
    public Task ALinkSwappedInASharedVolumeDuringCreateNeverSendsAMountOut() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        string shared = Path.Combine(berth.TemporaryDirectory, "shared");
        string marker = Path.Combine(berth.TemporaryDirectory, "marker");
        Directory.CreateDirectory(Path.Combine(shared, "x"));
        File.CreateSymbolicLink(Path.Combine(shared, "link"), "/etc");
        Directory.CreateDirectory(marker);
        File.WriteAllText(Path.Combine(marker, "here"), "mounted\n");
        string name = $"berth-e2e-{Guid.NewGuid():N}";
        using var stop = new CancellationTokenSource();
        // Held by the check below, so that it looks while x is the directory again.
        using var settled = new SemaphoreSlim(1);
        var swapper = Task.Run(() =>
        {
            // x is the link, then the directory again: renameat2(RENAME_EXCHANGE) is atomic.
            while (!stop.IsCancellationRequested)
            {
                settled.Wait();
                try
                {
                    LibC.Exchange(Path.Combine(shared, "x"), Path.Combine(shared, "link"));
                    LibC.Exchange(Path.Combine(shared, "x"), Path.Combine(shared, "link"));
                }
                finally
                {
                    settled.Release();
                }
            }
        });
        int made = 0, refused = 0;
        try
        {
            for (int attempt = 0; attempt < 20; attempt++)
            {
                var config = ContainerConfig(images.Image, $"racer-{attempt}", "sleep", "300");
                config.Mounts.Add(new Mount { ContainerPath = "/vol", HostPath = shared });
                config.Mounts.Add(new Mount { ContainerPath = $"/vol/x/{name}", HostPath = marker });
                try
                {
                    var id = await berth.CreateContainerAsync(podId, pod, config);
                    await berth.StartContainerAsync(id);
                    // Where the mount went: /vol/x/NAME, or confined to the container's /etc/NAME.
                    await settled.WaitAsync();
                    string seen;
                    try
                    {
                        seen = await berth.ShellAsync(id, $"cat /vol/x/{name}/here /etc/{name}/here 2>/dev/null");
                    }
                    finally
                    {
                        settled.Release();
                    }
                    Assert.True(seen.Contains("mounted", StringComparison.Ordinal), $"attempt {attempt}: the mount is nowhere in the container: {seen}");
                    made++;
                    await berth.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id });
                }
                catch (RpcException error) when (error.StatusCode is StatusCode.FailedPrecondition or StatusCode.InvalidArgument)
                {
                    refused++;
                }
                Assert.False(Path.Exists($"/etc/{name}"), $"attempt {attempt} made /etc/{name} on the host");
            }
        }
        finally
        {
            stop.Cancel();
            await swapper;
        }
        Assert.Equal(20, made + refused);
        Assert.True(made > 0, "every create was refused: the mounts that do not race must still work");
        Assert.False(Path.Exists($"/etc/{name}"));
    });

    [Fact]
    public Task AppArmorAndSelinuxThatCannotBeAppliedHereAreRefusedClearly() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        bool appArmor = File.Exists("/sys/module/apparmor/parameters/enabled") && File.ReadAllText("/sys/module/apparmor/parameters/enabled").StartsWith('Y');
        var apparmor = ContainerConfig(images.Image, "apparmor", "true");
        apparmor.Linux = new LinuxContainerConfig
        {
            SecurityContext = new LinuxContainerSecurityContext
            {
                Apparmor = new SecurityProfile { ProfileType = SecurityProfile.Types.ProfileType.Localhost, LocalhostRef = "berth-e2e-no-such-profile" },
            },
        };
        var error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, apparmor));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(appArmor ? "is not loaded on this node" : "AppArmor is not enabled on this node", error.Status.Detail);

        var selinux = ContainerConfig(images.Image, "selinux", "true");
        selinux.Linux = new LinuxContainerConfig
        {
            SecurityContext = new LinuxContainerSecurityContext { SelinuxOptions = new SELinuxOption { Level = "s0:c1,c2" } },
        };
        error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, selinux));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("selinux_options", error.Status.Detail);
        Assert.Empty((await berth.Runtime.ListContainersAsync(new ListContainersRequest())).Containers);
    });
}
