using Berth.Api.Cri;
using Berth.Core.Errors;
using Berth.RuntimeService.Node;
using Berth.Tests.Unit.Fakes;

namespace Berth.Tests.Unit.Runtime;

/// <summary>What ContainerStatus reports as resources, as created and as updated, across a restart; and the node checks made before a create.</summary>
public sealed class ContainerResourcesStatusTests : IDisposable
{
    private readonly MiddleLayer _layer = new();

    public void Dispose() => _layer.Dispose();

    [Fact]
    public async Task StatusResourcesAreWhatTheContainerWasCreatedWithThenUpdatedTo()
    {
        var sandbox = await _layer.RunPodAsync();
        var config = MiddleLayer.ContainerConfig();
        config.Linux = new LinuxContainerConfig
        {
            Resources = new LinuxContainerResources
            {
                CpuPeriod = 100_000, CpuQuota = 50_000, CpuShares = 512, MemoryLimitInBytes = 64 << 20, OomScoreAdj = 900,
                CpusetCpus = "0", HugepageLimits = { new HugepageLimit { PageSize = "2MB", Limit = 0 } },
                Unified = { ["memory.high"] = "50331648" },
            },
        };
        var container = await _layer.Containers.CreateAsync(sandbox.Id, config, CancellationToken.None);

        var created = container.Resources;
        Assert.Equal((100_000L, 50_000L, 512L, 64L << 20, 64L << 20, 900L, "0"),
            (created.CpuPeriod, created.CpuQuota, created.CpuShares, created.MemoryLimitInBytes, created.MemorySwapLimitInBytes, created.OomScoreAdj, created.CpusetCpus));
        Assert.Equal("2MB", Assert.Single(created.HugepageLimits).PageSize);
        Assert.Equal("50331648", created.Unified["memory.high"]);

        await _layer.Containers.UpdateResourcesAsync(container,
            new LinuxContainerResources { CpuQuota = 20_000, MemoryLimitInBytes = 128 << 20, Unified = { ["memory.low"] = "1" } }, CancellationToken.None);

        var updated = container.Resources;
        Assert.Equal((100_000L, 20_000L, 512L, 128L << 20, 900L), (updated.CpuPeriod, updated.CpuQuota, updated.CpuShares, updated.MemoryLimitInBytes, updated.OomScoreAdj));
        Assert.Equal(2, updated.Unified.Count);

        // berthd restarts: the update is remembered.
        _layer.Rebuild();
        await _layer.Recovery.RecoverAsync();
        Assert.Equal(updated, _layer.Registry.FindContainer(container.Id)!.Resources);
    }

    [Fact]
    public async Task AContainerWithoutResourcesReportsItsOomScoreAndNothingElse()
    {
        var container = await _layer.CreateAsync(await _layer.RunPodAsync());
        Assert.Equal(new LinuxContainerResources(), container.Resources);
    }

    [Theory]
    [InlineData(MountPropagation.PropagationHostToContainer)]
    [InlineData(MountPropagation.PropagationBidirectional)]
    public async Task APropagatingMountOfAPrivateSourceIsRefusedAndLeavesNothing(MountPropagation propagation)
    {
        var sandbox = await _layer.RunPodAsync();
        _layer.Node.SourceMounts["/srv/volume"] = new SourceMount("/", MountSharing.Private);
        var config = MiddleLayer.ContainerConfig();
        config.Mounts.Add(new Mount { ContainerPath = "/volume", HostPath = "/srv/volume", Propagation = propagation });

        var error = await Assert.ThrowsAsync<BerthException>(() => _layer.Containers.CreateAsync(sandbox.Id, config, CancellationToken.None));

        Assert.Equal(ErrorKind.FailedPrecondition, error.Kind);
        Assert.Contains("mount source /srv/volume is on mount /, which is private", error.Message);
        Assert.Empty(_layer.Store.Containers());
        Assert.DoesNotContain(_layer.Runtime.Shims, shim => shim.Target.Id != sandbox.Id);
    }
}
