using Berth.Api.Admin;
using Berth.ImageService.Admin;
using Berth.ImageService.Images;
using Berth.ImageService.Registry;

namespace Berth.Tests.Unit.Admin;

public sealed class PullWatchTests
{
    private static readonly Descriptor Present = new("application/vnd.oci.image.layer.v1.tar+gzip", "sha256:" + new string('a', 64), 100);
    private static readonly Descriptor Fetched = new("application/vnd.oci.image.layer.v1.tar+gzip", "sha256:" + new string('b', 64), 1000);

    private readonly PullProgressBoard _board = new();

    private PullWatch Watch() => new([Present, Fetched], digest => digest == Present.Digest, _board);

    [Fact]
    public void StartsWithEveryLayerAndItsTotalAndSaysWhichTheNodeHas()
    {
        var started = Watch().Started(Resolved());
        Assert.Equal([(Present.Digest, LayerPhase.AlreadyExists, 100L), (Fetched.Digest, LayerPhase.Waiting, 1000L)],
            started.Layers.Select(layer => (layer.Digest, layer.Phase, layer.Total)));
    }

    [Fact]
    public void SendsALayerOnlyWhenItMovedAndNeverBackwards()
    {
        var watch = Watch();
        Assert.Empty(watch.Sample());
        var transfer = _board.Begin(Fetched.Digest, Fetched.Size);
        Assert.Empty(watch.Sample()); // seen, but still waiting: nothing new to say
        transfer.MoveTo(TransferStage.Downloading);
        transfer.Add(300);
        Assert.Equal((LayerPhase.Downloading, 300L), Single(watch.Sample()));
        Assert.Empty(watch.Sample());
        transfer.Add(700);
        transfer.MoveTo(TransferStage.Extracting);
        Assert.Equal((LayerPhase.Extracting, 1000L), Single(watch.Sample()));
        // A second download of the layer (the first one failed for another pull) does not move this one back.
        _board.End(Fetched.Digest, transfer);
        var retry = _board.Begin(Fetched.Digest, Fetched.Size);
        Assert.Empty(watch.Sample());
        _board.End(Fetched.Digest, retry);
        Assert.Equal((LayerPhase.Done, 1000L), Single(watch.Sample()));
        Assert.Empty(watch.Finish());
    }

    [Fact]
    public void ALayerDownloadedBetweenSamplesIsDoneWithItsTotalAtTheFinish()
    {
        var watch = Watch();
        Assert.Empty(watch.Sample());
        var done = Assert.Single(watch.Finish());
        Assert.Equal((Fetched.Digest, LayerPhase.Done, 1000L, 1000L), (done.Digest, done.Phase, done.Bytes, done.Total));
    }

    private static (LayerPhase, long) Single(IEnumerable<LayerProgress> sample)
    {
        var layer = Assert.Single(sample);
        Assert.Equal(Fetched.Digest, layer.Digest);
        return (layer.Phase, layer.Bytes);
    }

    private static ResolvedImage Resolved() => new(ImageReference.Parse("registry.test/app:v1"), "sha256:" + new string('c', 64),
        "sha256:" + new string('c', 64), "application/vnd.oci.image.manifest.v1+json", [], new Descriptor("application/vnd.oci.image.config.v1+json",
            "sha256:" + new string('d', 64), 10), [Present, Fetched], new Uri("https://registry.test/"));
}
