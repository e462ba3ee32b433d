using Berth.Tests.E2e.Fixtures;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Images;

public sealed class CrashRecoveryTests(SharedRegistry registry) : IClassFixture<SharedRegistry>
{
    [Fact]
    public async Task ADaemonKilledMidPullRestartsWithAConsistentStore()
    {
        var layers = Enumerable.Range(0, 4)
            .Select(index => new LayerBuilder().File($"blob-{index}.bin", PullTests.RandomBytes(24 << 20)))
            .Prepend(LayerBuilder.Busybox())
            .ToList();
        var pushed = await registry.Builder.PushAsync(UniqueRepository("killed"), "v1", new ImageSpec { Layers = layers });
        await using var berth = await BerthDaemon.StartAsync(new { maxConcurrentDownloads = 1 });

        var pull = berth.PullAsync(pushed.Reference);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Leftovers(berth).Count == 0 && !pull.IsCompleted && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }
        Assert.False(pull.IsCompleted, "the pull finished before the daemon could be killed mid-way");
        await berth.KillAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => pull);

        await berth.RestartAsync();

        Assert.Empty(await berth.ListAsync());
        Assert.Null(await berth.StatusAsync(pushed.Reference));
        Assert.Empty(Leftovers(berth));
        Assert.Empty(SnapshotDirectories(berth));

        Assert.Equal(pushed.ConfigDigest, (await berth.PullAsync(pushed.Reference)).ImageRef);
        Assert.Equal(layers.Count, (await berth.SnapshotsAsync(pushed.Reference)).Count);
    }
}
