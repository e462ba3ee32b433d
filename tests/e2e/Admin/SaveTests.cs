using System.Formats.Tar;
using System.Text.Json;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Images;
using Berth.Tests.E2e.Pods;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Admin;

/// <summary>berthctl save, then rmi, then load: the same image comes back and runs.</summary>
public sealed class SaveTests(SharedRegistry registry) : IClassFixture<SharedRegistry>
{
    [Theory]
    [InlineData("docker")]
    [InlineData("oci")]
    public async Task SaveRmiLoadRestoresTheSameImageWhichRuns(string format)
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("saved"), "v1", BusyboxImage(new LayerBuilder().File("saved.txt", "saved")));
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(pushed.Reference);
        var archive = Path.Combine(berth.TemporaryDirectory, "saved.tar");

        var save = await Berthctl.RunAsync(berth, "save", "--format", format, "-o", archive, pushed.Reference);
        Assert.True(save.ExitCode == 0, save.ToString());
        AssertArchiveHoldsTheImage(archive, format, pushed);
        Assert.Equal(0, (await Berthctl.RunAsync(berth, "rmi", pushed.Reference)).ExitCode);
        Assert.Empty(await berth.ListAsync());
        Assert.Empty(SnapshotDirectories(berth));

        var load = await Berthctl.RunAsync(berth, "load", "-i", archive);

        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Equal($"Loaded image: {pushed.Reference}\n", load.Output);
        var image = Assert.Single(await berth.ListAsync());
        Assert.Equal(pushed.ConfigDigest, image.Id);
        Assert.Equal([pushed.Reference], image.RepoTags);
        var pod = PodTestSupport.PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var container = new ContainerConfig { Metadata = new ContainerMetadata { Name = "saved" }, Image = new Api.Cri.ImageSpec { Image = pushed.Reference }, LogPath = "saved.log" };
        container.Command.AddRange(["sleep", "3600"]);
        var containerId = await berth.CreateContainerAsync(podId, pod, container);
        await berth.StartContainerAsync(containerId);
        Assert.Equal("saved", (await berth.ExecAsync(containerId, 10, "cat", "/saved.txt")).Stdout.ToStringUtf8());
        await berth.RemovePodAsync(podId);
        Assert.Empty(PodTestSupport.Traces(berth, pod));
        Assert.Empty(Leftovers(berth));
    }

    [Fact]
    public async Task SavingAnImageThatIsNotThereFailsAndWritesNoArchive()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var archive = Path.Combine(berth.TemporaryDirectory, "none.tar");

        var save = await Berthctl.RunAsync(berth, "save", "-o", archive, "absent:v1");

        Assert.Equal(1, save.ExitCode);
        Assert.Equal("berthctl: no image absent:v1 on this node\n", save.Error);
        Assert.False(File.Exists(archive));
        Assert.False(File.Exists(archive + ".partial"));
    }

    /// <summary>docker load's expectations of a docker-archive (plain layer tars whose sha256 is the diff ID), or the OCI layout's blobs.</summary>
    private static void AssertArchiveHoldsTheImage(string archive, string format, PushedImage pushed)
    {
        var members = new Dictionary<string, byte[]>();
        using (var reader = new TarReader(File.OpenRead(archive)))
        {
            while (reader.GetNextEntry() is { } entry)
            {
                using var content = new MemoryStream();
                entry.DataStream?.CopyTo(content);
                members[entry.Name] = content.ToArray();
            }
        }
        if (format == "docker")
        {
            using var manifest = JsonDocument.Parse(members["manifest.json"]);
            var image = Assert.Single(manifest.RootElement.EnumerateArray().ToList());
            Assert.Equal([pushed.Reference], image.GetProperty("RepoTags").EnumerateArray().Select(tag => tag.GetString()));
            Assert.Equal(pushed.ConfigDigest, Digests.Sha256(members[image.GetProperty("Config").GetString()!]));
            Assert.Equal(pushed.DiffIds, image.GetProperty("Layers").EnumerateArray().Select(layer => Digests.Sha256(members[layer.GetString()!])));
        }
        else
        {
            Assert.Contains("oci-layout", members.Keys);
            using var index = JsonDocument.Parse(members["index.json"]);
            var entry = Assert.Single(index.RootElement.GetProperty("manifests").EnumerateArray().ToList());
            Assert.Equal(pushed.ManifestDigest, entry.GetProperty("digest").GetString());
            Assert.Equal(pushed.Reference, entry.GetProperty("annotations").GetProperty("io.containerd.image.name").GetString());
            foreach (var digest in pushed.LayerDigests.Append(pushed.ConfigDigest).Append(pushed.ManifestDigest))
            {
                Assert.Equal(digest, Digests.Sha256(members[$"blobs/sha256/{digest[7..]}"]));
            }
        }
    }
}
