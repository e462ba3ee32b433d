using System.Formats.Tar;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Images;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Admin;

/// <summary>
/// Images arriving by different ways that share layers: whatever order they came in, every image can be saved and
/// pushed, and an archive's copy of a layer the node already has is still checked before it is trusted.
/// </summary>
public sealed class ArchiveTrustTests(SharedRegistry registry) : IClassFixture<SharedRegistry>
{
    [Fact]
    public async Task AnImagePulledAfterALoadOfASharedLayerCanBeSavedAndPushed()
    {
        // The archive has busybox's layer as docker save writes it (a plain tar); the registry serves it gzip-compressed.
        var (archive, _) = ImageBuilder.DockerArchive([(BusyboxImage(), ["loaded/base:v1"])]);
        var pushed = await registry.Builder.PushAsync(UniqueRepository("after-load"), "v1", BusyboxImage(new LayerBuilder().File("own.txt", "own")));
        await using var berth = await BerthDaemon.StartAsync();
        var file = Path.Combine(berth.TemporaryDirectory, "base.tar");
        await File.WriteAllBytesAsync(file, archive);
        Assert.Equal(0, (await Berthctl.RunAsync(berth, "load", "-i", file)).ExitCode);

        // The pull finds busybox's snapshot there, but not the blob the registry states for it: it fetches that too.
        await berth.PullAsync(pushed.Reference);

        foreach (var format in new[] { "docker", "oci" })
        {
            var save = await Berthctl.RunAsync(berth, "save", "--format", format, "-o", Path.Combine(berth.TemporaryDirectory, $"saved-{format}.tar"), pushed.Reference);
            Assert.True(save.ExitCode == 0, save.ToString());
        }
        var target = $"{registry.Server.Host}/{UniqueRepository("pushed-after-load")}:v1";
        Assert.Equal(0, (await Berthctl.RunAsync(berth, "tag", pushed.Reference, target)).ExitCode);
        var push = await Berthctl.RunAsync(berth, "push", target);
        Assert.True(push.ExitCode == 0, push.ToString());
        Assert.Contains($"Digest: {pushed.ManifestDigest}", push.Output);

        // What was saved loads on a node that never saw the image, and is the same image.
        await using var fresh = await BerthDaemon.StartAsync();
        var load = await Berthctl.RunAsync(fresh, "load", "-i", Path.Combine(berth.TemporaryDirectory, "saved-oci.tar"));
        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Equal(pushed.ConfigDigest, Assert.Single(await fresh.ListAsync()).Id);
        Assert.Empty(Leftovers(berth));
    }

    [Fact]
    public async Task ATamperedLayerIsRefusedEvenWhenTheNodeHasItsDiffId()
    {
        var image = BusyboxImage(new LayerBuilder().File("app.txt", "genuine"));
        var (genuine, ids) = ImageBuilder.DockerArchive([(image, ["trusted/app:v1"])]);
        await using var berth = await BerthDaemon.StartAsync();
        var genuineFile = Path.Combine(berth.TemporaryDirectory, "genuine.tar");
        await File.WriteAllBytesAsync(genuineFile, genuine);
        Assert.Equal(0, (await Berthctl.RunAsync(berth, "load", "-i", genuineFile)).ExitCode);
        var blobsBefore = Directory.GetFiles(Path.Combine(berth.Root, "content", "sha256")).Order().ToList();

        // The same image under another name, its app layer swapped for other files: the config still states the genuine diff ID.
        var (renamed, _) = ImageBuilder.DockerArchive([(image, ["trusted/app:tampered"])]);
        var appDiffId = image.Layers[1].Build().DiffId;
        var tampered = ReplaceMember(renamed, $"{appDiffId[7..]}/layer.tar", new LayerBuilder().File("app.txt", "evil").Build().Tar);
        var tamperedFile = Path.Combine(berth.TemporaryDirectory, "tampered.tar");
        await File.WriteAllBytesAsync(tamperedFile, tampered);

        var load = await Berthctl.RunAsync(berth, "load", "-i", tamperedFile);

        Assert.Equal(1, load.ExitCode);
        Assert.Contains("changed or damaged", load.Error);
        Assert.Contains(appDiffId, load.Error);
        var listed = Assert.Single(await berth.ListAsync());
        Assert.Equal(ids[0], listed.Id);
        Assert.Equal(["docker.io/trusted/app:v1"], listed.RepoTags);
        Assert.Equal(blobsBefore, Directory.GetFiles(Path.Combine(berth.Root, "content", "sha256")).Order().ToList());
        Assert.Empty(Leftovers(berth));
    }

    /// <summary>The archive with one member's content replaced (its size with it).</summary>
    internal static byte[] ReplaceMember(byte[] archive, string name, byte[] content)
    {
        using var output = new MemoryStream();
        using (var reader = new TarReader(new MemoryStream(archive)))
        using (var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
        {
            while (reader.GetNextEntry(copyData: true) is { } entry)
            {
                if (entry.Name == name)
                {
                    entry = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) };
                }
                writer.WriteEntry(entry);
            }
        }
        return output.ToArray();
    }
}
