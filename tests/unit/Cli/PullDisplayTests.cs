using Berth.Api.Admin;
using Berth.Cli;
using Berth.Cli.Commands;
using Berth.Cli.Display;

namespace Berth.Tests.Unit.Cli;

public sealed class PullDisplayTests
{
    private const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Theory]
    [InlineData(0, "0B")]
    [InlineData(999, "999B")]
    [InlineData(1500, "1.5kB")]
    [InlineData(12_345_678, "12.3MB")]
    [InlineData(123_456_789, "123MB")]
    [InlineData(4_200_000_000, "4.2GB")]
    public void SizesReadAsDockersDo(double bytes, string text) => Assert.Equal(text, ByteSize.Format(bytes));

    [Fact]
    public void PlainLinesSayEachPhaseOnce()
    {
        var output = new StringWriter { NewLine = "\n" };
        var display = new PlainPullDisplay(output);
        var started = new PullStarted { Reference = "docker.io/library/app:v1" };
        started.Layers.Add(Layer(LayerPhase.Waiting, 0));
        display.Started(started);
        display.Layer(Layer(LayerPhase.Downloading, 10));
        display.Layer(Layer(LayerPhase.Downloading, 20));
        display.Layer(Layer(LayerPhase.Done, 2000));
        display.Done(new PullDone { ImageId = "sha256:ff", Name = "docker.io/library/app:v1", RepoDigest = "sha256:ee" });
        Assert.Equal("""
            Pulling docker.io/library/app:v1 (1 layers)
            0123456789ab: Waiting 2kB
            0123456789ab: Downloading 2kB
            0123456789ab: Pull complete
            Digest: sha256:ee
            Image: sha256:ff
            docker.io/library/app:v1

            """.ReplaceLineEndings("\n"), output.ToString());
    }

    [Fact]
    public void APushIsDrawnAsAPullIsWithItsOwnPhases()
    {
        var output = new StringWriter { NewLine = "\n" };
        var display = new PlainPullDisplay(output);
        var started = new PushStarted { Reference = "reg:5000/app:v1" };
        started.Blobs.Add(Layer(LayerPhase.Waiting, 0));
        display.Started(started);
        display.Layer(Layer(LayerPhase.Uploading, 10));
        display.Layer(Layer(LayerPhase.Pushed, 2000));
        display.Done(new PushDone { ManifestDigest = "sha256:ee", RepoDigest = "reg:5000/app@sha256:ee", ManifestSize = 428 });
        Assert.Equal("""
            Pushing reg:5000/app:v1 (1 blobs)
            0123456789ab: Waiting 2kB
            0123456789ab: Pushing 2kB
            0123456789ab: Pushed
            Digest: sha256:ee size: 428
            reg:5000/app@sha256:ee

            """.ReplaceLineEndings("\n"), output.ToString());

        var terminal = new StringWriter { NewLine = "\n" };
        var redrawn = new TerminalPullDisplay(terminal, TimeProvider.System);
        redrawn.Started(started);
        redrawn.Layer(Layer(LayerPhase.Uploading, 1000));
        redrawn.Layer(Layer(LayerPhase.Mounted, 2000));
        Assert.Contains("0123456789ab: Pushing", terminal.ToString());
        Assert.Contains("] 1kB/2kB", terminal.ToString());
        Assert.EndsWith("\u001b[2K0123456789ab: Mounted\n", terminal.ToString());
    }

    [Fact]
    public void TheTerminalDisplayRedrawsEachLayerLineInPlaceWithABar()
    {
        var output = new StringWriter { NewLine = "\n" };
        var display = new TerminalPullDisplay(output, TimeProvider.System);
        var started = new PullStarted { Reference = "r" };
        started.Layers.Add(Layer(LayerPhase.Waiting, 0));
        display.Started(started);
        display.Layer(Layer(LayerPhase.Downloading, 1000));
        var text = output.ToString();
        Assert.StartsWith("Pulling r\n\u001b[2K0123456789ab: Waiting\n\u001b[1A\u001b[2K0123456789ab: Downloading", text);
        Assert.Contains("[====================>                   ] 1kB/2kB", text);
    }

    [Theory]
    [InlineData("user:pa:ss", "user", "pa:ss")]
    public void UserSplitsAtTheFirstColon(string text, string user, string password)
    {
        var auth = PullCommand.ParseUser(text);
        Assert.Equal((user, password), (auth.Username, auth.Password));
    }

    [Theory]
    [InlineData("user")]
    [InlineData(":password")]
    [InlineData("user:")]
    public void UserWithoutBothPartsIsRefused(string text) => Assert.Throws<UsageException>(() => PullCommand.ParseUser(text));

    [Fact]
    public void TheImagesTableHasARowPerTagAndNoneForAnUntaggedImage()
    {
        var tagged = new ImageSummary { Id = "sha256:" + new string('a', 64), Size = 1_500_000 };
        tagged.RepoTags.Add("docker.io/library/app:v1");
        tagged.RepoTags.Add("registry.test:5000/app:v2");
        var untagged = new ImageSummary { Id = "sha256:" + new string('b', 64), Size = 10 };
        untagged.RepoDigests.Add("registry.test/other@sha256:" + new string('c', 64));
        Assert.Equal("""
            REPOSITORY               TAG      IMAGE ID       SIZE
            docker.io/library/app    v1       aaaaaaaaaaaa   1.5MB
            registry.test:5000/app   v2       aaaaaaaaaaaa   1.5MB
            registry.test/other      <none>   bbbbbbbbbbbb   10B

            """.ReplaceLineEndings("\n"), ImagesCommand.Table([tagged, untagged]));
    }

    [Theory]
    [InlineData("tcp://host:1")]
    [InlineData("unix://relative.sock")]
    public void AnAddressThatIsNoAbsoluteUnixSocketIsRefused(string address) =>
        Assert.Throws<UsageException>(() => AdminConnection.Open(address));

    private static LayerProgress Layer(LayerPhase phase, long bytes) => new() { Digest = Digest, Phase = phase, Bytes = bytes, Total = 2000 };
}
