using Berth.Api.Cri;
using ImageSpec = Berth.Tests.E2e.Fixtures.ImageSpec;
using CriImageSpec = Berth.Api.Cri.ImageSpec;
using Berth.Tests.E2e.Fixtures;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Images;

public sealed class RemoveTests(SharedRegistry registry) : IClassFixture<SharedRegistry>
{
    private static Task RemoveAsync(BerthDaemon berth, string image) =>
        berth.Images.RemoveImageAsync(new RemoveImageRequest { Image = new CriImageSpec { Image = image } }).ResponseAsync;

    [Fact]
    public async Task RemovingATagKeepsTheImageUntilItsLastTagGoes()
    {
        var repository = UniqueRepository("tags");
        var v1 = await registry.Builder.PushAsync(repository, "v1", BusyboxImage());
        var latest = await registry.Builder.PushAsync(repository, "latest", BusyboxImage());
        Assert.Equal(v1.ConfigDigest, latest.ConfigDigest);
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(v1.Reference);
        await berth.PullAsync(latest.Reference);
        Assert.Equal(2, Assert.Single(await berth.ListAsync()).RepoTags.Count);

        await RemoveAsync(berth, v1.Reference);

        Assert.Equal([latest.Reference], Assert.Single(await berth.ListAsync()).RepoTags);
        Assert.NotEmpty(SnapshotDirectories(berth));

        await RemoveAsync(berth, latest.Reference);

        Assert.Empty(await berth.ListAsync());
        Assert.Null(await berth.StatusAsync(v1.ConfigDigest));
        Assert.Empty(SnapshotDirectories(berth));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(berth.Root, "content", "sha256")));
    }

    [Fact]
    public async Task RemovingByIdRemovesEveryNameAndCollectsOnlyUnsharedLayers()
    {
        var shared = LayerBuilder.Busybox();
        var first = await registry.Builder.PushAsync(UniqueRepository("gc-a"), "v1", new ImageSpec { Layers = [shared, new LayerBuilder().File("a", "a")] });
        var second = await registry.Builder.PushAsync(UniqueRepository("gc-b"), "v1", new ImageSpec { Layers = [shared, new LayerBuilder().File("b", "b")] });
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(first.Reference);
        await berth.PullAsync(first.DigestReference);
        await berth.PullAsync(second.Reference);

        await RemoveAsync(berth, first.ConfigDigest);

        var remaining = Assert.Single(await berth.ListAsync());
        Assert.Equal(second.ConfigDigest, remaining.Id);
        Assert.Equal(2, SnapshotDirectories(berth).Count);
        Assert.All(await berth.SnapshotsAsync(second.Reference), snapshot => Assert.True(Directory.Exists(snapshot)));
    }

    [Fact]
    public async Task RemovingAnAbsentImageSucceeds()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await RemoveAsync(berth, "docker.io/library/never-pulled:latest");
        await RemoveAsync(berth, "sha256:" + new string('a', 64));
    }

    [Fact]
    public async Task StreamImagesListsWhatListImagesLists()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("streamed"), "v1", BusyboxImage());
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(pushed.Reference);

        using var call = berth.Images.StreamImages(new StreamImagesRequest());
        var streamed = new List<Image>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            streamed.AddRange(call.ResponseStream.Current.Images);
        }

        Assert.Equal((await berth.ListAsync()).Select(image => image.Id), streamed.Select(image => image.Id));
    }

    [Fact]
    public async Task ImageFsInfoCountsTheSnapshotsAfterAPullAndARemove()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("fsinfo"), "v1", BusyboxImage());
        await using var berth = await BerthDaemon.StartAsync();
        var before = (await berth.Images.ImageFsInfoAsync(new ImageFsInfoRequest())).ImageFilesystems.Single();

        await berth.PullAsync(pushed.Reference);

        var info = await berth.Images.ImageFsInfoAsync(new ImageFsInfoRequest());
        var after = info.ImageFilesystems.Single();
        Assert.Equal(Path.Combine(berth.Root, "snapshots"), after.FsId.Mountpoint);
        Assert.True(after.UsedBytes.Value > before.UsedBytes.Value + 500_000, $"{before.UsedBytes.Value} -> {after.UsedBytes.Value}");
        // bin/, etc/, root/, tmp/, busybox (its applets are hard links: one inode), passwd, group, and the layer directory.
        Assert.True(after.InodesUsed.Value >= before.InodesUsed.Value + 8, $"{before.InodesUsed.Value} -> {after.InodesUsed.Value}");
        Assert.True(after.Timestamp > 0);
        Assert.Equal(Path.Combine(berth.Root, "containers"), info.ContainerFilesystems.Single().FsId.Mountpoint);
        // Served from a count kept between calls: asked again it is the same, and a removal changes it back.
        Assert.Equal(after.UsedBytes, (await berth.Images.ImageFsInfoAsync(new ImageFsInfoRequest())).ImageFilesystems.Single().UsedBytes);

        await RemoveAsync(berth, pushed.Reference);

        var removed = (await berth.Images.ImageFsInfoAsync(new ImageFsInfoRequest())).ImageFilesystems.Single();
        Assert.Equal(before.UsedBytes, removed.UsedBytes);
        Assert.Equal(before.InodesUsed, removed.InodesUsed);
    }
}
