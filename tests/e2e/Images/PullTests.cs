using Berth.Api.Cri;
using ImageSpec = Berth.Tests.E2e.Fixtures.ImageSpec;
using CriImageSpec = Berth.Api.Cri.ImageSpec;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Images;

public sealed class PullTests(SharedRegistry registry) : IClassFixture<SharedRegistry>
{
    [Fact]
    public async Task PullByTagListsStatusesAndReportsTheImage()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("busybox"), "1.0", BusyboxImage());
        await using var berth = await BerthDaemon.StartAsync();

        var pulled = await berth.PullAsync(pushed.Reference);

        Assert.Equal(pushed.ConfigDigest, pulled.ImageRef);
        var image = Assert.Single(await berth.ListAsync());
        Assert.Equal(pushed.ConfigDigest, image.Id);
        Assert.Equal([pushed.Reference], image.RepoTags);
        Assert.Equal([$"{pushed.Registry}/{pushed.Repository}@{pushed.ManifestDigest}"], image.RepoDigests);
        Assert.Equal(1000, image.Uid.Value);
        Assert.True(image.Size > 0);
        var byShortId = await berth.StatusAsync(pushed.ConfigDigest["sha256:".Length..][..12]);
        Assert.Equal(image.Id, byShortId?.Id);
        Assert.Empty(Leftovers(berth));
    }

    [Fact]
    public async Task PullByDigestAndByTagAtDigest()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("bydigest"), "v1", BusyboxImage());
        await using var berth = await BerthDaemon.StartAsync();

        Assert.Equal(pushed.ConfigDigest, (await berth.PullAsync(pushed.DigestReference)).ImageRef);
        var image = Assert.Single(await berth.ListAsync());
        Assert.Empty(image.RepoTags);
        Assert.Equal([pushed.DigestReference], image.RepoDigests);

        Assert.Equal(pushed.ConfigDigest, (await berth.PullAsync($"{pushed.Reference}@{pushed.ManifestDigest}")).ImageRef);
        image = Assert.Single(await berth.ListAsync());
        Assert.Equal([pushed.Reference], image.RepoTags);
        Assert.Equal(pushed.ConfigDigest, (await berth.StatusAsync(pushed.DigestReference))?.Id);
    }

    [Fact]
    public async Task AnIndexResolvesToThisNodesPlatformAndReportsTheIndexDigest()
    {
        var repository = UniqueRepository("multiarch");
        var pushed = await registry.Builder.PushIndexAsync(repository, "latest",
        [
            BusyboxImage() with { Platform = ImagePlatform.LinuxArm64 },
            BusyboxImage() with { Platform = ImagePlatform.Host, Config = new ExecutionConfig { Cmd = ["host"] } },
            BusyboxImage() with { Platform = ImagePlatform.LinuxArmV7 },
        ]);
        await using var berth = await BerthDaemon.StartAsync();

        var pulled = await berth.PullAsync(pushed.Reference);

        Assert.Equal(pushed.HostManifest.ConfigDigest, pulled.ImageRef);
        var image = Assert.Single(await berth.ListAsync());
        Assert.Equal([$"{pushed.Registry}/{repository}@{pushed.IndexDigest}"], image.RepoDigests);
    }

    [Theory]
    [InlineData(LayerCompression.Gzip, ManifestFormat.Oci)]
    [InlineData(LayerCompression.Zstd, ManifestFormat.Oci)]
    [InlineData(LayerCompression.None, ManifestFormat.Oci)]
    [InlineData(LayerCompression.Gzip, ManifestFormat.Docker)]
    public async Task EveryLayerCompressionAndManifestFormatUnpacks(LayerCompression compression, ManifestFormat format)
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("compressed"), "v1",
            new ImageSpec { Layers = [LayerBuilder.Busybox(compression), new LayerBuilder { Compression = compression }.File("hello.txt", "hello")] },
            format);
        await using var berth = await BerthDaemon.StartAsync();

        await berth.PullAsync(pushed.Reference);

        var snapshots = await berth.SnapshotsAsync(pushed.Reference);
        Assert.Equal(2, snapshots.Count);
        Assert.True(File.Exists(Path.Combine(snapshots[0], "bin", "busybox")));
        Assert.Equal("hello", File.ReadAllText(Path.Combine(snapshots[1], "hello.txt")));
    }

    [Fact]
    public async Task AMirrorServesAHostThatDoesNotExist()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("mirrored"), "v1", BusyboxImage());
        await using var berth = await BerthDaemon.StartAsync(new
        {
            registries = new Dictionary<string, object>
            {
                ["registry.example.invalid"] = new { mirrors = new[] { "http://127.0.0.1:1", registry.Server.BaseUri.ToString() } },
            },
        });

        var pulled = await berth.PullAsync($"registry.example.invalid/{pushed.Repository}:v1");

        Assert.Equal(pushed.ConfigDigest, pulled.ImageRef);
        Assert.Equal([$"registry.example.invalid/{pushed.Repository}:v1"], Assert.Single(await berth.ListAsync()).RepoTags);
    }

    [Fact]
    public async Task AMissingImageIsNotFoundAndLeavesNothing()
    {
        await using var berth = await BerthDaemon.StartAsync();

        var error = await ExpectFailureAsync(() => berth.PullAsync($"{registry.Server.Host}/{UniqueRepository("absent")}:nope"), StatusCode.NotFound);

        Assert.Contains("nope", error.Status.Detail);
        Assert.Empty(await berth.ListAsync());
        Assert.Empty(SnapshotDirectories(berth));
        Assert.Empty(Leftovers(berth));
    }

    [Theory]
    [InlineData("")]
    [InlineData("library/UPPER")]
    [InlineData("busybox:bad tag")]
    [InlineData("busybox@sha256:short")]
    public async Task AMalformedReferenceIsInvalidArgument(string reference)
    {
        await using var berth = await BerthDaemon.StartAsync();
        await ExpectFailureAsync(() => berth.PullAsync(reference), StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task AnAuthThatIsNotBase64AndAnUnknownRuntimeHandlerAreInvalidArgument()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var badAuth = await Assert.ThrowsAsync<RpcException>(() => berth.Images.PullImageAsync(new PullImageRequest
        {
            Image = new CriImageSpec { Image = "127.0.0.1:1/busybox:1" },
            Auth = new AuthConfig { Auth = "!!!notbase64" },
        }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badAuth.StatusCode);
        Assert.Contains("auth", badAuth.Status.Detail);
        var handler = await Assert.ThrowsAsync<RpcException>(() => berth.Images.PullImageAsync(new PullImageRequest
        {
            Image = new CriImageSpec { Image = "127.0.0.1:1/busybox:1", RuntimeHandler = "kata" },
        }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, handler.StatusCode);
    }

    [Fact]
    public async Task ConcurrentPullsOfOneImageShareOneDownload()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("concurrent"), "v1",
            BusyboxImage(new LayerBuilder().File("big.bin", RandomBytes(8 << 20))));
        await using var berth = await BerthDaemon.StartAsync();

        var pulls = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => berth.PullAsync(pushed.Reference)));

        Assert.All(pulls, pull => Assert.Equal(pushed.ConfigDigest, pull.ImageRef));
        foreach (var layer in pushed.LayerDigests)
        {
            Assert.Equal(1, await registry.Server.CountRequestsAsync("GET", $"/{pushed.Repository}/blobs/{layer}"));
        }
    }

    [Fact]
    public async Task ALayerSharedByTwoImagesIsDownloadedAndStoredOnce()
    {
        var shared = LayerBuilder.Busybox();
        var first = await registry.Builder.PushAsync(UniqueRepository("shared-a"), "v1", new ImageSpec { Layers = [shared, new LayerBuilder().File("a", "a")] });
        var second = await registry.Builder.PushAsync(UniqueRepository("shared-b"), "v1", new ImageSpec { Layers = [shared, new LayerBuilder().File("b", "b")] });
        Assert.Equal(first.LayerDigests[0], second.LayerDigests[0]);
        await using var berth = await BerthDaemon.StartAsync();

        await Task.WhenAll(berth.PullAsync(first.Reference), berth.PullAsync(second.Reference));

        Assert.Equal(3, SnapshotDirectories(berth).Count);
        Assert.Equal(1, await registry.Server.CountRequestsAsync("GET", $"/{first.Repository}/blobs/{first.LayerDigests[0]}")
            + await registry.Server.CountRequestsAsync("GET", $"/{second.Repository}/blobs/{first.LayerDigests[0]}"));
        Assert.Equal((await berth.SnapshotsAsync(first.Reference))[0], (await berth.SnapshotsAsync(second.Reference))[0]);
    }

    internal static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }
}
