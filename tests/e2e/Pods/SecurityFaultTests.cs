using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Pods.PodTestSupport;
using ProfileType = Berth.Api.Cri.SecurityProfile.Types.ProfileType;

namespace Berth.Tests.E2e.Pods;

/// <summary>
/// Faults a fresh user met with security settings, each checked as a user meets it: from inside the container,
/// in the cgroup files, or in the status code and message of the call.
/// </summary>
public sealed class SecurityFaultTests(SecurityImages images) : IClassFixture<SecurityImages>
{
    private static readonly bool CgroupV2 = File.Exists("/sys/fs/cgroup/cgroup.controllers");

    private static ContainerConfig Privileged(ContainerConfig config, bool privileged)
    {
        config.Linux = new LinuxContainerConfig { SecurityContext = new LinuxContainerSecurityContext { Privileged = privileged } };
        return config;
    }

    [Fact]
    public async Task APrivilegedContainerSeesTheHostsDeviceNodesAndAnUnprivilegedOneDoesNot()
    {
        // Nodes of this host that no container gets by default; at least one is on every Linux host.
        var hostOnly = new[] { "/dev/loop-control", "/dev/kmsg", "/dev/fuse", "/dev/tty0" }.Where(File.Exists).ToList();
        Assert.NotEmpty(hostOnly);
        await using var berth = await BerthDaemon.StartAsync();
        await Images.ImageTestSupport.PullAsync(berth, images.Image.Reference);
        var pod = PodConfig(berth);
        pod.Linux.SecurityContext = new LinuxSandboxSecurityContext { Privileged = true };
        var podId = await berth.RunPodAsync(pod);
        try
        {
            var privileged = await berth.CreateContainerAsync(podId, pod, Privileged(ContainerConfig(images.Image, "privileged", "sleep", "300"), true));
            var plain = await berth.CreateContainerAsync(podId, pod, Privileged(ContainerConfig(images.Image, "plain", "sleep", "300"), false));
            await berth.StartContainerAsync(privileged);
            await berth.StartContainerAsync(plain);
            string list = string.Join(' ', hostOnly);

            string inside = await berth.ShellAsync(privileged, $"for d in {list}; do test -c $d && echo has-$d; done; ls -l /dev/ptmx; cat /proc/self/mountinfo | grep -c ' /dev/pts '");
            foreach (string device in hostOnly)
            {
                Assert.Contains($"has-{device}", inside);
            }
            // The container's /dev/ptmx is still the link to its own devpts, never the host's node.
            Assert.Contains("/dev/ptmx -> pts/ptmx", inside);
            if (hostOnly.Contains("/dev/loop-control"))
            {
                // And it may open them: the device cgroup allows every device.
                Assert.Contains("opened", await berth.ShellAsync(privileged, "exec 3</dev/loop-control && echo opened"));
            }

            string outside = await berth.ShellAsync(plain, $"for d in {list}; do test -e $d && echo has-$d; done; echo done");
            Assert.DoesNotContain("has-", outside);
        }
        finally
        {
            await berth.RemovePodAsync(podId);
        }
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public Task AmbientCapabilitiesReachANonRootProcess() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        var config = ContainerConfig(images.Image, "ambient", "sleep", "300");
        var capabilities = new Capability { DropCapabilities = { "ALL" }, AddAmbientCapabilities = { "NET_BIND_SERVICE" } };
        config.Linux = new LinuxContainerConfig
        {
            SecurityContext = new LinuxContainerSecurityContext { RunAsUser = new Int64Value { Value = 1000 }, Capabilities = capabilities },
        };
        var id = await berth.CreateContainerAsync(podId, pod, config);
        await berth.StartContainerAsync(id);

        // CAP_NET_BIND_SERVICE is bit 10: 0x400, in the ambient set and so in the effective set after execve.
        string status = await berth.ShellAsync(id, "grep -E '^Cap(Amb|Eff|Inh|Prm):' /proc/self/status; id -u");
        Assert.Matches(@"CapAmb:\s+0000000000000400", status);
        Assert.Matches(@"CapEff:\s+0000000000000400", status);
        Assert.Matches(@"CapInh:\s+0000000000000400", status);
        Assert.Contains("1000", status);
    });

    [Fact]
    public async Task APodsSeccompProfileIsCheckedAtRunPodSandboxAndFiltersItsReaper()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var missing = PodConfig(berth, "missing-profile");
        missing.Linux.SecurityContext = new LinuxSandboxSecurityContext
        {
            Seccomp = new SecurityProfile { ProfileType = ProfileType.Localhost, LocalhostRef = "profiles/nope.json" },
        };
        var error = await Assert.ThrowsAsync<RpcException>(() => berth.RunPodAsync(missing));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("profiles/nope.json does not exist", error.Status.Detail);
        Assert.Empty(Traces(berth, missing));

        var filtered = PodConfig(berth, "runtime-default");
        filtered.Linux.SecurityContext = new LinuxSandboxSecurityContext { Seccomp = new SecurityProfile { ProfileType = ProfileType.RuntimeDefault } };
        var podId = await berth.RunPodAsync(filtered);
        try
        {
            Assert.Matches(@"Seccomp:\s+2", File.ReadAllText($"/proc/{await berth.ReaperPidAsync(podId)}/status"));
            Assert.Equal(PodSandboxState.SandboxReady, (await berth.PodStatusAsync(podId)).State);
        }
        finally
        {
            await berth.RemovePodAsync(podId);
        }
        Assert.Empty(Traces(berth, filtered));
    }

    [Fact]
    public Task ARefusedUpdateChangesNothingAndAUnifiedKeyGetsOneCodeOnBothPaths() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(images.Image, "main", "sleep", "300"));
        await berth.StartContainerAsync(id);
        string container = Path.Combine(pod.Linux.CgroupParent.TrimStart('/'), id);
        string[] files = CgroupV2
            ? [$"/sys/fs/cgroup/{container}/cpu.weight", $"/sys/fs/cgroup/{container}/cpu.max", $"/sys/fs/cgroup/{container}/memory.max"]
            : [$"/sys/fs/cgroup/cpu/{container}/cpu.shares", $"/sys/fs/cgroup/cpu/{container}/cpu.cfs_quota_us", $"/sys/fs/cgroup/memory/{container}/memory.limit_in_bytes"];
        var before = files.Select(File.ReadAllText).ToList();

        async Task<RpcException> UpdateAsync(Dictionary<string, string> unified)
        {
            var resources = new LinuxContainerResources { CpuShares = 256, CpuQuota = 20_000, CpuPeriod = 100_000, MemoryLimitInBytes = 96 << 20 };
            resources.Unified.Add(unified);
            return await Assert.ThrowsAsync<RpcException>(() =>
                berth.Runtime.UpdateContainerResourcesAsync(new UpdateContainerResourcesRequest { ContainerId = id, Linux = resources }).ResponseAsync);
        }
        async Task<RpcException> CreateAsync(Dictionary<string, string> unified)
        {
            var config = ContainerConfig(images.Image, "refused", "sleep", "300");
            config.Linux = new LinuxContainerConfig { Resources = new LinuxContainerResources { CpuShares = 256 } };
            config.Linux.Resources.Unified.Add(unified);
            return await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, config));
        }

        // A key no container may write: the request's fault, INVALID_ARGUMENT on both paths.
        var forbidden = new Dictionary<string, string> { ["cgroup.procs"] = "1" };
        var (created, updated) = (await CreateAsync(forbidden), await UpdateAsync(forbidden));
        Assert.Equal((StatusCode.InvalidArgument, StatusCode.InvalidArgument), (created.StatusCode, updated.StatusCode));
        Assert.Contains("cgroup.procs", updated.Status.Detail);
        Assert.Equal(before, files.Select(File.ReadAllText));
        if (!CgroupV2)
        {
            // A key of a controller this node's cgroup2 tree does not have (all are in v1 here): the node's
            // fault, FAILED_PRECONDITION on both paths; and the limits asked beside it are not written.
            var unavailable = new Dictionary<string, string> { ["memory.high"] = "50331648" };
            (created, updated) = (await CreateAsync(unavailable), await UpdateAsync(unavailable));
            Assert.Equal((StatusCode.FailedPrecondition, StatusCode.FailedPrecondition), (created.StatusCode, updated.StatusCode));
            Assert.Contains("memory.high", created.Status.Detail);
            Assert.Contains("memory.high", updated.Status.Detail);
            Assert.Equal(before, files.Select(File.ReadAllText));
        }
        // Nothing of the refused creates is left.
        Assert.Single((await berth.Runtime.ListContainersAsync(new ListContainersRequest())).Containers);
    });
}
