using System.Diagnostics;
using System.Text.Json;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

public sealed class RecoveryTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    private static async Task<int> PidAsync(BerthDaemon berth, string id)
    {
        var response = await berth.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = id, Verbose = true });
        using var info = JsonDocument.Parse(response.Info["info"]);
        return info.RootElement.GetProperty("pid").GetInt32();
    }

    private static bool Alive(int pid) => Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ");

    private static async Task WaitUntilGoneAsync(int pid)
    {
        for (int attempt = 0; attempt < 200 && Alive(pid); attempt++)
        {
            await Task.Delay(25);
        }
        Assert.False(Alive(pid), $"process {pid} still runs");
    }

    [Fact]
    public async Task WhatAHostPidContainerLeavesBehindWhenItsFirstProcessExitsIsKilled()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        pod.Linux.SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Node } };
        var podId = await berth.RunPodAsync(pod);
        var config = ContainerConfig(registry.Busybox, "parent", "sh", "-c", "sleep 300 & echo $! > /tmp/child; sleep 1");
        config.Linux = new LinuxContainerConfig
        {
            SecurityContext = new LinuxContainerSecurityContext { NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Node } },
        };
        var id = await berth.CreateContainerAsync(podId, pod, config);
        await berth.StartContainerAsync(id);
        await Task.Delay(300);
        int child = int.Parse((await berth.ExecAsync(id, 10, "cat", "/tmp/child")).Stdout.ToStringUtf8().Trim());
        Assert.True(Alive(child));

        await berth.WaitForStateAsync(id, ContainerState.ContainerExited);

        await WaitUntilGoneAsync(child);
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task AfterKill9OfTheDaemonRunningContainersKeepRunningAndExitsAreReported()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var sleeper = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "sleeper", "sleep", "300"));
        var quitter = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "quitter", "sh", "-c", "sleep 2; exit 7"));
        await berth.StartContainerAsync(sleeper);
        await berth.StartContainerAsync(quitter);
        var pid = await PidAsync(berth, sleeper);

        await berth.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        await berth.RestartAsync();

        Assert.Equal(PodSandboxState.SandboxReady, (await berth.PodStatusAsync(podId)).State);
        Assert.Equal(ContainerState.ContainerRunning, (await berth.ContainerStatusAsync(sleeper)).State);
        Assert.Equal(pid, await PidAsync(berth, sleeper));
        Assert.True(Alive(pid));
        var exited = await berth.WaitForStateAsync(quitter, ContainerState.ContainerExited);
        Assert.Equal(7, exited.ExitCode);
        Assert.True(exited.FinishedAt > exited.StartedAt);
        Assert.Equal(2, (await berth.Runtime.ListContainersAsync(new ListContainersRequest())).Containers.Count);

        await berth.RemovePodAsync(podId);
        Assert.False(Alive(pid));
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task AContainerWhoseShimWasKilledIsReportedExitedAndCanBeRemoved()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "orphan", "sleep", "300"));
        await berth.StartContainerAsync(id);
        var pid = await PidAsync(berth, id);
        var shimPid = berth.ShimPid("containers", id);

        Process.GetProcessById(shimPid).Kill();

        var status = await berth.WaitForStateAsync(id, ContainerState.ContainerExited);
        Assert.NotEmpty(status.Reason);
        Assert.NotEmpty(status.Message);
        // Reported exited means gone: kubelet starts a replacement, which must not run beside it.
        await WaitUntilGoneAsync(pid);
        await berth.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = id, Timeout = 1 });
        await berth.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id });
        await berth.RemovePodAsync(podId);
        Assert.False(Alive(pid));
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task AfterARebootContainersAreExitedSandboxesNotReadyAndBothRemovable()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "main", "sleep", "300"));
        await berth.StartContainerAsync(id);

        await berth.KillAsync();
        await SimulateRebootAsync(berth, pod);
        await berth.RestartAsync();

        Assert.Equal(PodSandboxState.SandboxNotready, (await berth.PodStatusAsync(podId)).State);
        var status = await berth.ContainerStatusAsync(id);
        Assert.Equal(ContainerState.ContainerExited, status.State);
        Assert.Equal("Unknown", status.Reason);
        await berth.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id });
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task TwentyPodsStartedConcurrentlyAllBecomeReadyAndGoAway()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var pods = Enumerable.Range(0, 20).Select(index => PodConfig(berth, $"many-{index}")).ToList();

        var ids = await Task.WhenAll(pods.Select(pod => berth.RunPodAsync(pod)));

        Assert.Equal(20, ids.Distinct().Count());
        var listed = await berth.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest
        {
            Filter = new PodSandboxFilter { State = new PodSandboxStateValue { State = PodSandboxState.SandboxReady } },
        });
        Assert.Equal(20, listed.Items.Count);
        await Task.WhenAll(ids.Select(berth.RemovePodAsync));
        Assert.All(pods, pod => Assert.Empty(Traces(berth, pod)));
    }

    [Fact]
    public async Task ADaemonKilledInTheMiddleOfAnyCallLeavesPodsWholeOrAbsentAndRemovable()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pods = new List<PodSandboxConfig>();
        for (var round = 0; round < 6; round++)
        {
            var pod = PodConfig(berth, $"crash-{round}");
            pods.Add(pod);
            var calls = Task.Run(async () =>
            {
                var podId = await berth.RunPodAsync(pod);
                var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "main", "sleep", "300"));
                await berth.StartContainerAsync(id);
                await berth.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId });
            });
            // Each round kills the daemon a little later, so the kill lands in a different call or step.
            await Task.Delay(15 + round * 40);
            await berth.KillAsync();
            try
            {
                await calls.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Grpc.Core.RpcException)
            {
                // The call the kill interrupted.
            }
            await berth.RestartAsync();

            foreach (var listed in (await berth.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest())).Items)
            {
                Assert.Equal(pod.Metadata.Name, listed.Metadata.Name);
                await berth.RemovePodAsync(listed.Id);
            }
            Assert.Empty((await berth.Runtime.ListContainersAsync(new ListContainersRequest())).Containers);
            Assert.Empty(Traces(berth, pod));
        }
    }

    /// <summary>What a reboot does: every process of the node dies, /run is empty; /var/lib stays.</summary>
    private static async Task SimulateRebootAsync(BerthDaemon berth, PodSandboxConfig pod)
    {
        foreach (var cgroup in Fixtures.Leftovers.CgroupDirectories(pod.Linux.CgroupParent).Where(Directory.Exists))
        {
            foreach (var procs in Directory.EnumerateFiles(cgroup, "cgroup.procs", SearchOption.AllDirectories))
            {
                foreach (var pid in File.ReadAllLines(procs).Where(line => line.Length > 0))
                {
                    try { Process.GetProcessById(int.Parse(pid)).Kill(); } catch (ArgumentException) { }
                }
            }
        }
        foreach (var shim in Directory.EnumerateFiles(berth.State, "shim.pid", SearchOption.AllDirectories))
        {
            try { Process.GetProcessById(int.Parse(File.ReadAllText(shim).Trim())).Kill(); } catch (ArgumentException) { }
        }
        await Task.Delay(500);
        foreach (var mount in File.ReadAllLines("/proc/self/mountinfo").Select(line => line.Split(' ')[4])
                     .Where(target => target.StartsWith(berth.State, StringComparison.Ordinal)).OrderByDescending(target => target.Length))
        {
            Process.Start("umount", ["-l", mount])!.WaitForExit();
        }
        Directory.Delete(berth.State, recursive: true);
    }
}
