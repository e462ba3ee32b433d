using System.Diagnostics;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

/// <summary>A sandbox notices its own death: kubelet rebuilds a pod only when its sandbox is not ready.</summary>
public sealed class SandboxHealthTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    private static readonly TimeSpan NoticeWithin = TimeSpan.FromSeconds(1);

    public static TheoryData<string> Victims => new() { "reaper", "shim" };

    [Theory]
    [MemberData(nameof(Victims))]
    public async Task ASandboxWhoseReaperOrShimIsKilledIsNotReadyWithinASecondAndGoesCleanly(string victim)
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var sleeper = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "sleeper", "sleep", "300"));
        await berth.StartContainerAsync(sleeper);

        Process.GetProcessById(victim == "reaper" ? await berth.ReaperPidAsync(podId) : berth.ShimPid("sandboxes", podId)).Kill();

        var noticed = await berth.WaitForPodStateAsync(podId, PodSandboxState.SandboxNotready, TimeSpan.FromSeconds(20));
        Assert.True(noticed < NoticeWithin, $"the sandbox became NOTREADY {noticed.TotalMilliseconds:0} ms after its {victim} was killed");
        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "late", "true")));
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains($"pod sandbox {podId} is not ready", refused.Status.Detail);
        Assert.Contains(victim == "reaper" ? "reaper" : "shim", refused.Status.Detail);

        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Theory]
    [MemberData(nameof(Victims))]
    public async Task ASandboxThatDiedWhileBerthdWasDownIsNotReadyAfterTheRestartAndGoesCleanly(string victim)
    {
        await using var berth = await BerthDaemon.StartAsync();
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        int pid = victim == "reaper" ? await berth.ReaperPidAsync(podId) : berth.ShimPid("sandboxes", podId);

        await berth.KillAsync();
        Process.GetProcessById(pid).Kill();
        await berth.RestartAsync();

        Assert.Equal(PodSandboxState.SandboxNotready, (await berth.PodStatusAsync(podId)).State);
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task AReaperKilledAfterARestartIsNoticedToo()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        await berth.RestartAsync();
        Assert.Equal(PodSandboxState.SandboxReady, (await berth.PodStatusAsync(podId)).State);

        Process.GetProcessById(await berth.ReaperPidAsync(podId)).Kill();

        await berth.WaitForPodStateAsync(podId, PodSandboxState.SandboxNotready, TimeSpan.FromSeconds(20));
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }
}
