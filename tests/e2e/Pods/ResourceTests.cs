using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

public sealed class ResourceTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    private static readonly bool CgroupV2 = File.Exists("/sys/fs/cgroup/cgroup.controllers");

    private static string CgroupFile(PodSandboxConfig pod, string containerId, string controller, string file) =>
        CgroupV2
            ? Path.Combine("/sys/fs/cgroup", pod.Linux.CgroupParent.TrimStart('/'), containerId, file)
            : Path.Combine("/sys/fs/cgroup", controller, pod.Linux.CgroupParent.TrimStart('/'), containerId, file);

    private static string Read(string path) => File.ReadAllText(path).Trim();

    /// <summary>A whole disk of this machine: its /dev path and "major:minor".</summary>
    private static (string Path, string Numbers) BlockDevice()
    {
        var name = Directory.EnumerateDirectories("/sys/block").Select(System.IO.Path.GetFileName)
            .First(disk => disk is not null && !disk.StartsWith("loop", StringComparison.Ordinal) && !disk.StartsWith("ram", StringComparison.Ordinal) && File.Exists($"/dev/{disk}"));
        return ($"/dev/{name}", Read($"/sys/block/{name}/dev"));
    }

    [Fact]
    public async Task CpuMemoryCpusetAndBlkioLimitsReachTheCgroupAndCanBeUpdated()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        pod.Annotations.Add("blkio.berth.io/weight", "300");
        var (disk, numbers) = BlockDevice();
        pod.Annotations.Add("blkio.berth.io/throttle-read-bps-device", $"{disk}=1048576");
        var podId = await berth.RunPodAsync(pod);
        var config = ContainerConfig(registry.Busybox, "limited", "sleep", "300");
        config.Linux = new LinuxContainerConfig
        {
            Resources = new LinuxContainerResources
            {
                CpuShares = 512, CpuQuota = 50_000, CpuPeriod = 100_000, MemoryLimitInBytes = 64 << 20, CpusetCpus = "0",
            },
        };
        var id = await berth.CreateContainerAsync(podId, pod, config);
        await berth.StartContainerAsync(id);

        if (CgroupV2)
        {
            Assert.Equal("50000 100000", Read(CgroupFile(pod, id, "", "cpu.max")));
            Assert.Equal((64 << 20).ToString(), Read(CgroupFile(pod, id, "", "memory.max")));
        }
        else
        {
            Assert.Equal("512", Read(CgroupFile(pod, id, "cpu", "cpu.shares")));
            Assert.Equal("50000", Read(CgroupFile(pod, id, "cpu", "cpu.cfs_quota_us")));
            Assert.Equal("100000", Read(CgroupFile(pod, id, "cpu", "cpu.cfs_period_us")));
            Assert.Equal((64 << 20).ToString(), Read(CgroupFile(pod, id, "memory", "memory.limit_in_bytes")));
            Assert.Equal("0", Read(CgroupFile(pod, id, "cpuset", "cpuset.cpus")));
            // BFQ's weight file when the kernel offers it, else CFQ's, as runc chooses.
            var bfqWeight = CgroupFile(pod, id, "blkio", "blkio.bfq.weight");
            Assert.Equal("300", Read(File.Exists(bfqWeight) ? bfqWeight : CgroupFile(pod, id, "blkio", "blkio.weight")).Split(' ')[^1]);
            Assert.Equal($"{numbers} 1048576", Read(CgroupFile(pod, id, "blkio", "blkio.throttle.read_bps_device")));
        }

        // ContainerStatus reports what the container runs with (kubelet's in-place resize reads it), as containerd.
        var created = (await berth.ContainerStatusAsync(id)).Resources.Linux;
        Assert.Equal((512L, 50_000L, 100_000L, 64L << 20, "0"),
            (created.CpuShares, created.CpuQuota, created.CpuPeriod, created.MemoryLimitInBytes, created.CpusetCpus));

        await berth.Runtime.UpdateContainerResourcesAsync(new UpdateContainerResourcesRequest
        {
            ContainerId = id,
            Linux = new LinuxContainerResources { CpuShares = 256, CpuQuota = 20_000, CpuPeriod = 100_000, MemoryLimitInBytes = 128 << 20 },
        });
        var updated = (await berth.ContainerStatusAsync(id)).Resources.Linux;
        Assert.Equal((256L, 20_000L, 100_000L, 128L << 20, "0"),
            (updated.CpuShares, updated.CpuQuota, updated.CpuPeriod, updated.MemoryLimitInBytes, updated.CpusetCpus));

        if (CgroupV2)
        {
            Assert.Equal("20000 100000", Read(CgroupFile(pod, id, "", "cpu.max")));
            Assert.Equal((128 << 20).ToString(), Read(CgroupFile(pod, id, "", "memory.max")));
        }
        else
        {
            Assert.Equal("256", Read(CgroupFile(pod, id, "cpu", "cpu.shares")));
            Assert.Equal("20000", Read(CgroupFile(pod, id, "cpu", "cpu.cfs_quota_us")));
            Assert.Equal((128 << 20).ToString(), Read(CgroupFile(pod, id, "memory", "memory.limit_in_bytes")));
        }
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task AProcessAllocatingPastItsMemoryLimitIsReportedOomKilled()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var config = ContainerConfig(registry.Busybox, "hungry", "sh", "-c", "x=aaaaaaaa; while true; do x=$x$x; done");
        config.Linux = new LinuxContainerConfig { Resources = new LinuxContainerResources { MemoryLimitInBytes = 32 << 20 } };
        var id = await berth.CreateContainerAsync(podId, pod, config);
        await berth.StartContainerAsync(id);

        var status = await berth.WaitForStateAsync(id, ContainerState.ContainerExited, TimeSpan.FromSeconds(60));

        Assert.Equal("OOMKilled", status.Reason);
        Assert.Equal(137, status.ExitCode);
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task ExecSyncIsKilledAtItsTimeoutAndSaysSo()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "main", "sleep", "300"));
        await berth.StartContainerAsync(id);

        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<RpcException>(() => berth.ExecAsync(id, 1, "sleep", "30"));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Contains("timed out", error.Status.Detail);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(15));
        Assert.Equal(0, (await berth.ExecAsync(id, 5, "true")).ExitCode);

        // A long exec does not hold up other calls on the container.
        var longExec = berth.ExecAsync(id, 60, "sleep", "30");
        await Task.Delay(300);
        var stopping = DateTime.UtcNow;
        await berth.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = id, Timeout = 0 });
        Assert.True(DateTime.UtcNow - stopping < TimeSpan.FromSeconds(10));
        // The exec dies with the container's PID namespace and its call ends.
        Assert.Same(longExec, await Task.WhenAny(longExec, Task.Delay(TimeSpan.FromSeconds(10))));
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task TimeoutsLongerThanATimerCanRunMeanNoLimitNotAnError()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "main", "sleep", "300"));
        await berth.StartContainerAsync(id);

        // kubelet passes terminationGracePeriodSeconds and probe timeouts as they are; Kubernetes sets no maximum.
        Assert.Equal(0, (await berth.ExecAsync(id, long.MaxValue, "true")).ExitCode);
        Assert.Equal(0, (await berth.ExecAsync(id, 5_000_000, "true")).ExitCode);
        var stop = berth.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = id, Timeout = long.MaxValue }).ResponseAsync;
        await Task.Delay(500);
        await berth.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = id, Timeout = 0 });
        await stop;

        Assert.Equal(ContainerState.ContainerExited, (await berth.ContainerStatusAsync(id)).State);
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task AnUpdateTheKernelRefusesIsFailedPreconditionAndAMalformedOneInvalidArgument()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "main", "sleep", "300"));
        await berth.StartContainerAsync(id);

        async Task<RpcException> UpdateAsync(LinuxContainerResources resources) => await Assert.ThrowsAsync<RpcException>(() =>
            berth.Runtime.UpdateContainerResourcesAsync(new UpdateContainerResourcesRequest { ContainerId = id, Linux = resources }).ResponseAsync);

        var belowUsage = await UpdateAsync(new LinuxContainerResources { MemoryLimitInBytes = 4096 });
        Assert.Equal(StatusCode.FailedPrecondition, belowUsage.StatusCode);
        var notAList = await UpdateAsync(new LinuxContainerResources { CpusetCpus = "zzz" });
        Assert.Equal(StatusCode.InvalidArgument, notAList.StatusCode);
        Assert.Contains("cpuset_cpus", notAList.Status.Detail);
        var tinyPeriod = await UpdateAsync(new LinuxContainerResources { CpuPeriod = 1 });
        Assert.Equal(StatusCode.InvalidArgument, tinyPeriod.StatusCode);
        Assert.Equal(ContainerState.ContainerRunning, (await berth.ContainerStatusAsync(id)).State);
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task AMemoryLimitTooLowToRunTheContainerSaysSoWhereverItBites()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var config = ContainerConfig(registry.Busybox, "tiny", "sh", "-c", "x=aaaaaaaa; while true; do x=$x$x; done");
        config.Linux = new LinuxContainerConfig { Resources = new LinuxContainerResources { MemoryLimitInBytes = 4096 } };

        // The kernel's OOM killer may strike while the container is set up (what the set-up touches is
        // charged as it goes) or once it runs; either way the answer says why, never a bare "exited".
        try
        {
            var id = await berth.CreateContainerAsync(podId, pod, config);
            await berth.StartContainerAsync(id);
            var status = await berth.WaitForStateAsync(id, ContainerState.ContainerExited, TimeSpan.FromSeconds(60));
            Assert.Equal("OOMKilled", status.Reason);
        }
        catch (RpcException error)
        {
            Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
            Assert.Contains("memory limit", error.Status.Detail);
        }
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task ReopenContainerLogStartsANewFileAfterRotation()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var id = await berth.CreateContainerAsync(podId, pod,
            ContainerConfig(registry.Busybox, "chatty", "sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.05; done"));
        await berth.StartContainerAsync(id);
        var logPath = (await berth.ContainerStatusAsync(id)).LogPath;
        await WaitUntilAsync(() => File.Exists(logPath) && new FileInfo(logPath).Length > 0);

        File.Move(logPath, logPath + ".1");
        await berth.Runtime.ReopenContainerLogAsync(new ReopenContainerLogRequest { ContainerId = id });

        await WaitUntilAsync(() => File.Exists(logPath) && new FileInfo(logPath).Length > 0);
        Assert.Matches(@"^\S+ stdout F line \d+$", File.ReadLines(logPath).First());
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not come true in 15 s");
            await Task.Delay(50);
        }
    }
}
