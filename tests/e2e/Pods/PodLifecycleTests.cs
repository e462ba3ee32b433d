using System.Text;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Pods.PodTestSupport;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Pods;

public sealed class PodLifecycleTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    [Fact]
    public async Task APodAndItsContainerLiveAndLeaveNothingBehind()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        Assert.Equal(PodSandboxState.SandboxReady, (await berth.PodStatusAsync(podId)).State);

        var containerId = await berth.CreateContainerAsync(podId, pod,
            ContainerConfig(registry.Busybox, "main", "sh", "-c", "echo hello from $(hostname); echo oops >&2; exec sleep 300"));
        var created = await berth.ContainerStatusAsync(containerId);
        Assert.Equal(ContainerState.ContainerCreated, created.State);
        Assert.Equal(registry.Busybox.ConfigDigest, created.ImageId);

        await berth.StartContainerAsync(containerId);
        var running = await berth.WaitForStateAsync(containerId, ContainerState.ContainerRunning);
        Assert.True(running.StartedAt >= running.CreatedAt);

        var exec = await berth.ExecAsync(containerId, 10, "sh", "-c", "cat /etc/hostname; echo err >&2; exit 4");
        Assert.Equal(4, exec.ExitCode);
        Assert.Equal($"{pod.Hostname}\n", exec.Stdout.ToStringUtf8());
        Assert.Equal("err\n", exec.Stderr.ToStringUtf8());

        var log = await WaitForLogAsync(running.LogPath, "oops");
        Assert.Matches(@"^\S+ stdout F hello from " + pod.Hostname + "$", log.Split('\n').First(line => line.Contains("hello")));
        Assert.Matches(@"^\S+ stderr F oops$", log.Split('\n').First(line => line.Contains("oops")));

        var listed = await berth.Runtime.ListContainersAsync(new ListContainersRequest
        {
            Filter = new ContainerFilter { PodSandboxId = podId, State = new ContainerStateValue { State = ContainerState.ContainerRunning } },
        });
        Assert.Equal(containerId, Assert.Single(listed.Containers).Id);

        await berth.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = containerId, Timeout = 2 });
        var exited = await berth.ContainerStatusAsync(containerId);
        Assert.Equal(ContainerState.ContainerExited, exited.State);
        Assert.Equal(143, exited.ExitCode);

        await berth.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = containerId });
        await berth.RemovePodAsync(podId);
        await berth.RemovePodAsync(podId);

        Assert.Empty((await berth.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest())).Items);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task ExitCodesAndReasonsAreReported()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);

        var ok = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "ok", "true"));
        var failing = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "failing", "sh", "-c", "exit 3"));
        await berth.StartContainerAsync(ok);
        await berth.StartContainerAsync(failing);

        var completed = await berth.WaitForStateAsync(ok, ContainerState.ContainerExited);
        Assert.Equal((0, "Completed"), (completed.ExitCode, completed.Reason));
        var error = await berth.WaitForStateAsync(failing, ContainerState.ContainerExited);
        Assert.Equal((3, "Error"), (error.ExitCode, error.Reason));
        Assert.True(error.FinishedAt >= error.StartedAt);

        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task ARetriedCreateWithTheSameMetadataIsRefusedNamingTheExistingId()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);

        var again = await Assert.ThrowsAsync<RpcException>(() => berth.RunPodAsync(pod));
        Assert.Equal(StatusCode.AlreadyExists, again.StatusCode);
        Assert.Contains(podId, again.Status.Detail);

        var config = ContainerConfig(registry.Busybox, "main", "sleep", "60");
        var containerId = await berth.CreateContainerAsync(podId, pod, config);
        var twice = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, config));
        Assert.Equal(StatusCode.AlreadyExists, twice.StatusCode);
        Assert.Contains(containerId, twice.Status.Detail);
        Assert.Single((await berth.Runtime.ListContainersAsync(new ListContainersRequest())).Containers);

        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task BadRequestsGetClearStatusesAndLeaveNothing()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);

        var missingImage = ContainerConfig(registry.Busybox, "x", "true");
        missingImage.Image.Image = "registry.example.invalid/absent:1";
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, missingImage))).StatusCode);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() =>
            berth.CreateContainerAsync("0123456789", pod, ContainerConfig(registry.Busybox, "y", "true")))).StatusCode);
        var missingCommand = ContainerConfig(registry.Busybox, "z", "/no/such/program");
        var createFailed = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, missingCommand));
        Assert.True(createFailed.Status.Detail.Contains("/no/such/program"), createFailed.Status.Detail);
        Assert.Empty((await berth.Runtime.ListContainersAsync(new ListContainersRequest())).Containers);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(async () =>
            await berth.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = "feedface" }))).StatusCode);

        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task AContainerKeepsWorkingWhenItsImageIsRemovedAndStreamsListLikeLists()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "main", "sleep", "300"));

        await berth.Images.RemoveImageAsync(new RemoveImageRequest { Image = new Berth.Api.Cri.ImageSpec { Image = registry.Busybox.ConfigDigest } });
        Assert.Empty(await berth.ListAsync());
        await berth.StartContainerAsync(id);
        Assert.Equal(0, (await berth.ExecAsync(id, 5, "ls", "/bin/busybox")).ExitCode);

        var streamedPods = await Collect(berth.Runtime.StreamPodSandboxes(new StreamPodSandboxesRequest()).ResponseStream, response => response.PodSandboxes);
        Assert.Equal(podId, Assert.Single(streamedPods).Id);
        var streamedContainers = await Collect(berth.Runtime.StreamContainers(new StreamContainersRequest
        {
            Filter = new ContainerFilter { PodSandboxId = podId },
        }).ResponseStream, response => response.Containers);
        Assert.Equal(id, Assert.Single(streamedContainers).Id);

        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
        Assert.Empty(SnapshotDirectories(berth));
    }

    private static async Task<List<T>> Collect<TResponse, T>(IAsyncStreamReader<TResponse> stream, Func<TResponse, IEnumerable<T>> items)
    {
        var all = new List<T>();
        while (await stream.MoveNext(CancellationToken.None))
        {
            all.AddRange(items(stream.Current));
        }
        return all;
    }

    private static async Task<string> WaitForLogAsync(string path, string expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var text = File.Exists(path) ? Encoding.UTF8.GetString(await File.ReadAllBytesAsync(path)) : "";
            if (text.Contains(expected) || DateTime.UtcNow > deadline)
            {
                return text;
            }
            await Task.Delay(50);
        }
    }
}
