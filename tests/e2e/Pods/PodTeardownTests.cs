using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

/// <summary>Removing a pod removes what is its own and nothing else, whatever runs beside it.</summary>
public sealed class PodTeardownTests(BusyboxRegistry registry, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<BusyboxRegistry>
{
    [Fact]
    public async Task RemovePodSandboxRacingCreateContainerEndsCleanAHundredTimes()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var outcomes = new System.Collections.Concurrent.ConcurrentBag<string>();

        async Task RaceAsync(PodSandboxConfig pod)
        {
            var podId = await berth.RunPodAsync(pod);
            var create = berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "racer", "sleep", "300"));
            var remove = berth.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId }).ResponseAsync;
            try
            {
                await create;
                outcomes.Add("created");
            }
            catch (RpcException error) when (error.StatusCode is StatusCode.FailedPrecondition or StatusCode.NotFound)
            {
                outcomes.Add(error.StatusCode.ToString());
            }
            await remove;
        }

        // Four races at a time; each batch must leave nothing of its pods.
        for (int round = 0; round < 100; round += 4)
        {
            var pods = Enumerable.Range(round, 4).Select(index => PodConfig(berth, $"race-{index}")).ToList();
            await Task.WhenAll(pods.Select(RaceAsync));
            Assert.All(pods, pod => Assert.Empty(Traces(berth, pod)));
        }

        Assert.Equal(100, outcomes.Count);
        output.WriteLine(string.Join(", ", outcomes.GroupBy(outcome => outcome).Select(group => $"{group.Key}: {group.Count()}")));
        Assert.Empty((await berth.Runtime.ListContainersAsync(new ListContainersRequest())).Containers);
        Assert.Empty((await berth.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest())).Items);
    }

    [Fact]
    public async Task TwoPodsSharingACgroupParentSurviveEachOthersRemoval()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var first = PodConfig(berth, "first");
        var second = PodConfig(berth, "second");
        second.Linux.CgroupParent = first.Linux.CgroupParent;
        var firstId = await berth.RunPodAsync(first);
        var secondId = await berth.RunPodAsync(second);
        var survivor = await berth.CreateContainerAsync(secondId, second, ContainerConfig(registry.Busybox, "survivor", "sleep", "300"));
        await berth.StartContainerAsync(survivor);

        await berth.RemovePodAsync(firstId);

        Assert.Equal(ContainerState.ContainerRunning, (await berth.ContainerStatusAsync(survivor)).State);
        Assert.Equal(PodSandboxState.SandboxReady, (await berth.PodStatusAsync(secondId)).State);
        Assert.Equal(0, (await berth.ExecAsync(survivor, 10, "true")).ExitCode);
        Assert.Contains(Fixtures.Leftovers.CgroupDirectories(second.Linux.CgroupParent), Directory.Exists);

        await berth.RemovePodAsync(secondId);
        Assert.Empty(Traces(berth, first));
        Assert.Empty(Traces(berth, second));
    }

    [Fact]
    public async Task TheSecondPodOfASharedCgroupParentToGoRemovesTheParentItDidNotMake()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var first = PodConfig(berth, "maker");
        var second = PodConfig(berth, "joiner");
        second.Linux.CgroupParent = first.Linux.CgroupParent;
        var firstId = await berth.RunPodAsync(first);
        var secondId = await berth.RunPodAsync(second);

        await berth.RemovePodAsync(secondId);
        Assert.Contains(Fixtures.Leftovers.CgroupDirectories(first.Linux.CgroupParent), Directory.Exists);
        await berth.RemovePodAsync(firstId);

        Assert.Empty(Traces(berth, first));
    }

    [Fact]
    public async Task ACgroupParentBerthDidNotMakeIsLeftAlone()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var pod = PodConfig(berth, "guest");
        var parents = Fixtures.Leftovers.CgroupDirectories(pod.Linux.CgroupParent).ToList();
        parents.ForEach(directory => Directory.CreateDirectory(directory));
        try
        {
            var podId = await berth.RunPodAsync(pod);
            await berth.RemovePodAsync(podId);

            Assert.All(parents, directory => Assert.True(Directory.Exists(directory), directory));
        }
        finally
        {
            parents.ForEach(Directory.Delete);
        }
    }
}
