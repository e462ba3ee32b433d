using System.Diagnostics;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

public sealed class MountPropagationTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    [Theory]
    [InlineData(MountPropagation.PropagationBidirectional, true)]
    [InlineData(MountPropagation.PropagationHostToContainer, false)]
    [InlineData(MountPropagation.PropagationPrivate, false)]
    public async Task AMountMadeInTheContainerReachesTheHostOnlyWhenBidirectional(MountPropagation propagation, bool reachesHost)
    {
        var volume = Directory.CreateTempSubdirectory("berth-e2e-volume-").FullName;
        Run("mount", "--bind", volume, volume);
        try
        {
            Run("mount", propagation == MountPropagation.PropagationPrivate ? "--make-rprivate" : "--make-rshared", volume);
            await using var berth = await BerthDaemon.StartAsync();
            await berth.PullAsync(registry.Busybox.Reference);
            var pod = PodConfig(berth);
            pod.Linux.SecurityContext = new LinuxSandboxSecurityContext { Privileged = true };
            var podId = await berth.RunPodAsync(pod);
            var config = ContainerConfig(registry.Busybox, "mounter", "sleep", "300");
            config.Linux = new LinuxContainerConfig { SecurityContext = new LinuxContainerSecurityContext { Privileged = true } };
            config.Mounts.Add(new Mount { ContainerPath = "/volume", HostPath = volume, Propagation = propagation });
            var id = await berth.CreateContainerAsync(podId, pod, config);
            await berth.StartContainerAsync(id);

            var mounted = await berth.ExecAsync(id, 10, "sh", "-c", "mkdir -p /volume/inner && mount -t tmpfs inner /volume/inner && touch /volume/inner/made-inside");

            Assert.Equal(0, mounted.ExitCode);
            Assert.Equal(reachesHost, File.Exists(Path.Combine(volume, "inner", "made-inside")));
            await berth.RemovePodAsync(podId);
            Assert.Empty(Traces(berth, pod));
        }
        finally
        {
            Run("umount", "-R", "-l", volume);
            Directory.Delete(volume, recursive: true);
        }
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)}: {error}");
    }
}
