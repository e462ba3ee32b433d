using System.Formats.Tar;
using System.Text;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Pods;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using ImageSpec = Berth.Tests.E2e.Fixtures.ImageSpec;

namespace Berth.Tests.E2e.Admin;

/// <summary>berthctl load of archives the fixtures make in docker save's format, good and bad.</summary>
public sealed class LoadTests
{
    private const string Marker = "berth-original-content-0123456789";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ADockerArchiveLoadsEveryImageWithItsTagsAndRuns(bool gzip)
    {
        var (archive, ids) = ImageBuilder.DockerArchive(
        [
            (BusyboxImage(new LayerBuilder().File("hello.txt", Marker)), ["loaded/app:v1", "registry.test:5000/app:v1"]),
            (BusyboxImage(new LayerBuilder().File("other.txt", "other")), ["loaded/other:latest"]),
        ], gzip);
        await using var berth = await BerthDaemon.StartAsync();
        var file = Path.Combine(berth.TemporaryDirectory, "images.tar");
        await File.WriteAllBytesAsync(file, archive);

        var load = await Berthctl.RunAsync(berth, "load", "-i", file);

        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Equal("""
            Loaded image: docker.io/loaded/app:v1
            Loaded image: registry.test:5000/app:v1
            Loaded image: docker.io/loaded/other:latest

            """.ReplaceLineEndings("\n"), load.Output);
        var images = await berth.ListAsync();
        Assert.Equal(ids.Order(), images.Select(image => image.Id).Order());
        Assert.Equal(["docker.io/loaded/app:v1", "registry.test:5000/app:v1"], images.Single(image => image.Id == ids[0]).RepoTags);
        Assert.All(images, image => Assert.Empty(image.RepoDigests));
        Assert.Empty(Leftovers(berth));

        var pod = PodTestSupport.PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var container = new ContainerConfig { Metadata = new ContainerMetadata { Name = "loaded" }, Image = new Api.Cri.ImageSpec { Image = "loaded/app:v1" }, LogPath = "loaded.log" };
        container.Command.AddRange(["sleep", "3600"]);
        var containerId = await berth.CreateContainerAsync(podId, pod, container);
        await berth.StartContainerAsync(containerId);
        var cat = await berth.ExecAsync(containerId, 10, "cat", "/hello.txt");
        Assert.Equal(Marker, cat.Stdout.ToStringUtf8());
        await berth.RemovePodAsync(podId);
        Assert.Empty(PodTestSupport.Traces(berth, pod));
    }

    [Fact]
    public async Task ATamperedLayerIsRefusedAndTheStoreIsUnchanged()
    {
        var (archive, _) = ImageBuilder.DockerArchive(
        [
            (BusyboxImage(), ["loaded/good:v1"]),
            (BusyboxImage(new LayerBuilder().File("hello.txt", Marker)), ["loaded/tampered:v1"]),
        ]);
        // The same length, other bytes: the layer's tar stays well-formed, its diff ID does not.
        var tampered = Replace(archive, Marker, Marker.ToUpperInvariant());
        await using var berth = await BerthDaemon.StartAsync();
        var snapshotsBefore = SnapshotDirectories(berth);

        var result = await LoadAsync(berth, tampered);

        Assert.Equal(1, result.ExitCode);
        Assert.Matches("^berthctl: the archive's layer '[0-9a-f]{64}/layer.tar' unpacks to sha256:[0-9a-f]{64}, but its image's config says sha256:[0-9a-f]{64}: it was changed or damaged\n$", result.Error);
        await AssertUnchangedAsync(berth, snapshotsBefore);
    }

    [Fact]
    public async Task ATruncatedArchiveIsRefusedAndTheStoreIsUnchanged()
    {
        var (archive, _) = ImageBuilder.DockerArchive([(BusyboxImage(), ["loaded/cut:v1"])]);
        await using var berth = await BerthDaemon.StartAsync();

        var result = await LoadAsync(berth, archive[..(archive.Length / 2)]);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("berthctl: ", result.Error);
        Assert.Contains("archive", result.Error);
        await AssertUnchangedAsync(berth, []);
    }

    [Theory]
    [InlineData("../escape.json", TarEntryType.RegularFile, null, "escapes the archive with ..")]
    [InlineData("/etc/passwd", TarEntryType.RegularFile, null, "is an absolute path")]
    [InlineData("link.json", TarEntryType.SymbolicLink, "../../etc/passwd", "links outside the archive (../../etc/passwd)")]
    [InlineData("dev", TarEntryType.CharacterDevice, null, "is a CharacterDevice, which no image archive holds")]
    public async Task AMemberEscapingTheArchiveIsRefused(string name, TarEntryType type, string? link, string why)
    {
        using var buffer = new MemoryStream();
        using (var writer = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            var entry = new PaxTarEntry(type, name);
            if (link is not null)
            {
                entry.LinkName = link;
            }
            else if (type == TarEntryType.RegularFile)
            {
                entry.DataStream = new MemoryStream("{}"u8.ToArray());
            }
            writer.WriteEntry(entry);
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "manifest.json") { DataStream = new MemoryStream("[]"u8.ToArray()) });
        }
        await using var berth = await BerthDaemon.StartAsync();

        var result = await LoadAsync(berth, buffer.ToArray());

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"berthctl: the archive's member '{name}' {why}: refused, nothing was loaded\n", result.Error);
        Assert.False(File.Exists(Path.Combine(berth.Root, "content", "escape.json")));
        await AssertUnchangedAsync(berth, []);
    }

    private static async Task<BerthctlResult> LoadAsync(BerthDaemon berth, byte[] archive)
    {
        var file = Path.Combine(berth.TemporaryDirectory, $"archive-{Guid.NewGuid():N}.tar");
        await File.WriteAllBytesAsync(file, archive);
        return await Berthctl.RunAsync(berth, "load", "-i", file);
    }

    private static async Task AssertUnchangedAsync(BerthDaemon berth, IReadOnlyList<string> snapshotsBefore)
    {
        Assert.Empty(await berth.ListAsync());
        Assert.Equal(snapshotsBefore, SnapshotDirectories(berth));
        Assert.Empty(Leftovers(berth));
    }

    private static byte[] Replace(byte[] archive, string from, string to)
    {
        var text = Encoding.Latin1.GetString(archive);
        Assert.Equal(1, text.Split(from).Length - 1);
        return Encoding.Latin1.GetBytes(text.Replace(from, to));
    }
}
