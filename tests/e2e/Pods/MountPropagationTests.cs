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

    [Fact]
    public async Task APropagatingMountOfASourceThatCannotPropagateIsRefusedAsContainerdRefusesIt()
    {
        // A private mount, and a slave of a shared one: what HostToContainer and Bidirectional need of their source.
        var root = Directory.CreateTempSubdirectory("berth-e2e-propagation-").FullName;
        string shared = Path.Combine(root, "shared"), slave = Path.Combine(root, "slave"), isolated = Path.Combine(root, "private");
        foreach (string directory in new[] { shared, slave, isolated })
        {
            Directory.CreateDirectory(directory);
        }
        var mounted = new List<string>();
        try
        {
            Run("mount", "--bind", isolated, isolated);
            mounted.Add(isolated);
            Run("mount", "--make-private", isolated);
            Run("mount", "--bind", shared, shared);
            mounted.Add(shared);
            Run("mount", "--make-shared", shared);
            Run("mount", "--bind", shared, slave);
            mounted.Add(slave);
            Run("mount", "--make-slave", slave);
            await using var berth = await BerthDaemon.StartAsync();
            await berth.PullAsync(registry.Busybox.Reference);
            var pod = PodConfig(berth);
            pod.Linux.SecurityContext = new LinuxSandboxSecurityContext { Privileged = true };
            var podId = await berth.RunPodAsync(pod);
            async Task<string> CreateAsync(string name, string source, MountPropagation propagation)
            {
                var config = ContainerConfig(registry.Busybox, name, "sleep", "300");
                config.Mounts.Add(new Mount { ContainerPath = "/volume", HostPath = source, Propagation = propagation });
                return await berth.CreateContainerAsync(podId, pod, config);
            }

            foreach (var (source, propagation, expected) in new[]
            {
                (isolated, MountPropagation.PropagationHostToContainer, "which is private; HostToContainer propagation needs a shared or slave mount"),
                (isolated, MountPropagation.PropagationBidirectional, "which is private; Bidirectional propagation needs a shared mount"),
                (slave, MountPropagation.PropagationBidirectional, "which is slave; Bidirectional propagation needs a shared mount"),
            })
            {
                var error = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => CreateAsync("refused", source, propagation));
                Assert.Equal(Grpc.Core.StatusCode.FailedPrecondition, error.StatusCode);
                Assert.Contains($"mount source {source} is on mount {source}, {expected}", error.Status.Detail);
            }
            // What can propagate is taken: a slave for HostToContainer, a shared mount for both.
            await CreateAsync("from-slave", slave, MountPropagation.PropagationHostToContainer);
            await CreateAsync("both-ways", shared, MountPropagation.PropagationBidirectional);
            Assert.Equal(2, (await berth.Runtime.ListContainersAsync(new ListContainersRequest())).Containers.Count);
            await berth.RemovePodAsync(podId);
            Assert.Empty(Traces(berth, pod));
        }
        finally
        {
            foreach (string mount in Enumerable.Reverse(mounted))
            {
                Run("umount", "-l", mount);
            }
            Directory.Delete(root, recursive: true);
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
