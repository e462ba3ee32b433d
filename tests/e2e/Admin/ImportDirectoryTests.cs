using Berth.Tests.E2e.Fixtures;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Admin;

/// <summary>The air-gapped way in: archives dropped in berthd's import directory become images crictl lists, once each.</summary>
public sealed class ImportDirectoryTests
{
    private static readonly TimeSpan PickUpLimit = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan ImportDirectoryPoll = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task AnArchiveDroppedInTheImportDirectoryBecomesAnImageOnceEvenAcrossRestarts()
    {
        var (archive, ids) = ImageBuilder.DockerArchive([(BusyboxImage(), ["airgap/app:v1"])], gzip: true);
        await using var berth = await BerthDaemon.StartAsync();
        var import = Path.Combine(berth.Root, "import");
        Assert.True(Directory.Exists(import), "berthd makes its import directory");

        // As an operator copies it in: written under a hidden name, renamed into place.
        await File.WriteAllBytesAsync(Path.Combine(import, ".app.tar.gz.partial"), archive);
        File.Move(Path.Combine(import, ".app.tar.gz.partial"), Path.Combine(import, "app.tar.gz"));

        var image = await WaitForImageAsync(berth, ids[0]);
        Assert.Equal(["docker.io/airgap/app:v1"], image.RepoTags);

        // Removed by the operator, it does not come back at the next start: the archive was taken once.
        await berth.Images.RemoveImageAsync(new Api.Cri.RemoveImageRequest { Image = new Api.Cri.ImageSpec { Image = ids[0] } });
        await berth.RestartAsync();
        await Task.Delay(ImportDirectoryPoll * 3);
        Assert.Empty(await berth.ListAsync());

        // A broken archive is refused and logged; the rest of the directory is still taken at start.
        await berth.StopAsync();
        var (other, otherIds) = ImageBuilder.DockerArchive([(BusyboxImage(new LayerBuilder().File("x.txt", "x")), ["airgap/other:v1"])]);
        await File.WriteAllBytesAsync(Path.Combine(import, "broken.tar"), other[..(other.Length / 3)]);
        await File.WriteAllBytesAsync(Path.Combine(import, "other.tar"), other);
        await berth.RestartAsync();
        Assert.Equal(["docker.io/airgap/other:v1"], (await WaitForImageAsync(berth, otherIds[0])).RepoTags);
        // The two archives are taken in either order: the broken one's refusal (logged once its load has
        // cleaned up) may come after the other image is listed.
        await WaitForLogAsync(berth, line => line.Contains("Cannot import") && line.Contains("broken.tar"));
        // An image is listed once committed, before its load has deleted its spool: "Imported" is logged after that.
        await WaitForLogAsync(berth, line => line.Contains("Imported") && line.Contains("other.tar"));
        Assert.Empty(Leftovers(berth));
    }

    [Fact]
    public async Task OnlyRegularFilesAreImportedAFifoNeitherStallsTheWatcherNorShutdownAndSymlinksAreNotFollowed()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var import = Path.Combine(berth.Root, "import");
        // A FIFO with no writer: opening it to read would wait forever.
        var fifo = Path.Combine(import, "a-pipe.tar");
        Assert.Equal(0, LibC.MakeFifo(fifo));
        // A link to a good archive outside the directory: an operator's file elsewhere is not taken through it.
        var (linked, linkedIds) = ImageBuilder.DockerArchive([(BusyboxImage(new LayerBuilder().File("l.txt", "l")), ["airgap/linked:v1"])]);
        var outside = Path.Combine(berth.TemporaryDirectory, "outside.tar");
        await File.WriteAllBytesAsync(outside, linked);
        File.CreateSymbolicLink(Path.Combine(import, "b-link.tar"), outside);

        // Dropped after both (and named after them, so scanned after them): still taken.
        var (archive, ids) = ImageBuilder.DockerArchive([(BusyboxImage(), ["airgap/after-fifo:v1"])]);
        await File.WriteAllBytesAsync(Path.Combine(import, ".c.partial"), archive);
        File.Move(Path.Combine(import, ".c.partial"), Path.Combine(import, "c-archive.tar"));

        Assert.Equal(["docker.io/airgap/after-fifo:v1"], (await WaitForImageAsync(berth, ids[0])).RepoTags);
        await WaitForLogAsync(berth, line => line.Contains("a-pipe.tar") && line.Contains("FIFO"));
        await WaitForLogAsync(berth, line => line.Contains("b-link.tar") && line.Contains("symbolic link"));
        Assert.DoesNotContain(await berth.ListAsync(), image => image.Id == linkedIds[0]);

        // Shutdown does not wait on the FIFO: berthd ends on SIGTERM, before the fixture's SIGKILL.
        await berth.StopAsync();
        Assert.True(berth.ExitCode is 0, $"berthd ended with {berth.ExitCode} (137: killed after its stop grace)\n{berth.OutputTail()}");
        Assert.Empty(Leftovers(berth));
    }

    private static async Task WaitForLogAsync(BerthDaemon berth, Func<string, bool> wanted)
    {
        var deadline = DateTime.UtcNow + PickUpLimit;
        while (!berth.OutputTail(200).Split('\n').Any(wanted))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the awaited line was not logged within {PickUpLimit}\n{berth.OutputTail()}");
            }
            await Task.Delay(100);
        }
    }

        private static async Task<Api.Cri.Image> WaitForImageAsync(BerthDaemon berth, string id)
    {
        var deadline = DateTime.UtcNow + PickUpLimit;
        while (true)
        {
            if ((await berth.ListAsync()).FirstOrDefault(image => image.Id == id) is { } image)
            {
                return image;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{id} was not imported within {PickUpLimit}\n{berth.OutputTail()}");
            }
            await Task.Delay(100);
        }
    }
}
