using Berth.Api.Admin;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Images;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Admin;

/// <summary>berth.admin.v1's Pull stream, as berthctl reads it, against a real registry.</summary>
public sealed class PullProgressTests(SharedRegistry registry) : IClassFixture<SharedRegistry>
{
    [Fact]
    public async Task TheStreamStartsWithEveryLayerMovesEachForwardToItsTotalAndEndsWithTheImage()
    {
        // Random bytes do not compress: a layer of several MB whose download takes a while.
        var noise = new byte[6 << 20];
        Random.Shared.NextBytes(noise);
        var pushed = await registry.Builder.PushAsync(UniqueRepository("progress"), "v1",
            BusyboxImage(new LayerBuilder().File("noise.bin", noise), new LayerBuilder().File("small.txt", "small")));
        await using var berth = await BerthDaemon.StartAsync();

        var events = await PullAsync(berth, pushed.Reference);

        var started = Assert.Single(events.Take(1)).Started;
        Assert.NotNull(started);
        Assert.Equal(pushed.ManifestDigest, started.ManifestDigest);
        Assert.Equal(pushed.LayerDigests, started.Layers.Select(layer => layer.Digest));
        Assert.All(started.Layers, layer => Assert.Equal(LayerPhase.Waiting, layer.Phase));
        var detail = await berth.Admin.InspectAsync(new InspectRequest { Image = pushed.Reference });
        Assert.Equal(detail.Layers.Select(layer => layer.Size), started.Layers.Select(layer => layer.Total));

        var done = events[^1].Done;
        Assert.NotNull(done);
        Assert.Equal(pushed.ConfigDigest, done.ImageId);
        Assert.Equal(pushed.Reference, done.Name);
        Assert.Equal(pushed.ManifestDigest, done.RepoDigest);
        Assert.All(events.Skip(1).SkipLast(1), pullEvent => Assert.Equal(PullEvent.EventOneofCase.Layer, pullEvent.EventCase));
        AssertEachLayerMovesForwardToDone(started, events.Skip(1).SkipLast(1).Select(pullEvent => pullEvent.Layer).ToList());
    }

    [Fact]
    public async Task ALayerTheNodeHasIsReportedAsExistingAndNotDownloaded()
    {
        var shared = LayerBuilder.Busybox();
        var first = await registry.Builder.PushAsync(UniqueRepository("first"), "v1", new Fixtures.ImageSpec { Layers = [shared] });
        var second = await registry.Builder.PushAsync(UniqueRepository("second"), "v1",
            new Fixtures.ImageSpec { Layers = [shared, new LayerBuilder().File("extra.txt", "extra")] });
        await using var berth = await BerthDaemon.StartAsync();
        await PullAsync(berth, first.Reference);
        var sharedBlobGets = await registry.Server.CountRequestsAsync("GET", $"/blobs/{second.LayerDigests[0]}");

        var events = await PullAsync(berth, second.Reference);

        var started = events[0].Started;
        Assert.Equal([LayerPhase.AlreadyExists, LayerPhase.Waiting], started.Layers.Select(layer => layer.Phase));
        var layerEvents = events.Where(pullEvent => pullEvent.Layer is not null).Select(pullEvent => pullEvent.Layer).ToList();
        Assert.DoesNotContain(layerEvents, layer => layer.Digest == second.LayerDigests[0]);
        Assert.Equal(second.ConfigDigest, events[^1].Done.ImageId);
        Assert.Equal(sharedBlobGets, await registry.Server.CountRequestsAsync("GET", $"/blobs/{second.LayerDigests[0]}"));
    }

    [Fact]
    public async Task AFailedPullEndsTheStreamWithTheRegistrysAnswerAndLeavesNothing()
    {
        await using var berth = await BerthDaemon.StartAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => PullAsync(berth, $"{registry.Server.Host}/{UniqueRepository("absent")}:v1"));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Contains("not found", error.Status.Detail);
        Assert.Empty((await berth.Admin.ListAsync(new ListRequest())).Images);
        Assert.Empty(Leftovers(berth));
        var bad = await Assert.ThrowsAsync<RpcException>(() => PullAsync(berth, "Not A Reference"));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
    }

    private static async Task<List<PullEvent>> PullAsync(BerthDaemon berth, string reference)
    {
        using var call = berth.Admin.Pull(new PullRequest { Reference = reference });
        var events = new List<PullEvent>();
        await foreach (var pullEvent in call.ResponseStream.ReadAllAsync())
        {
            events.Add(pullEvent);
        }
        return events;
    }

    /// <summary>Per layer: phases never go back, bytes never go down nor past the total, and the last event is DONE with every byte.</summary>
    private static void AssertEachLayerMovesForwardToDone(PullStarted started, IReadOnlyList<LayerProgress> layerEvents)
    {
        foreach (var layer in started.Layers)
        {
            var mine = layerEvents.Where(progress => progress.Digest == layer.Digest).ToList();
            Assert.NotEmpty(mine);
            var phase = layer.Phase;
            long bytes = 0;
            foreach (var progress in mine)
            {
                Assert.True(progress.Phase >= phase, $"{layer.Digest} went from {phase} back to {progress.Phase}");
                Assert.True(progress.Bytes >= bytes, $"{layer.Digest} went from {bytes} bytes back to {progress.Bytes}");
                Assert.True(progress.Bytes <= layer.Total, $"{layer.Digest} reported {progress.Bytes} of {layer.Total} bytes");
                Assert.Equal(layer.Total, progress.Total);
                (phase, bytes) = (progress.Phase, progress.Bytes);
            }
            Assert.Equal(LayerPhase.Done, mine[^1].Phase);
            Assert.Equal(layer.Total, mine[^1].Bytes);
        }
    }
}
