using System.Text.Json;
using Berth.Api.Admin;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Images;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Admin;

/// <summary>berthctl as an operator uses it, on a daemon's admin socket, with its results checked through CRI as crictl sees them.</summary>
public sealed class BerthctlTests(SharedRegistry registry) : IClassFixture<SharedRegistry>
{
    [Fact]
    public async Task PullImagesTagInspectAndRmiWorkAsDockerUsersExpect()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("workflow"), "v1", BusyboxImage());
        await using var berth = await BerthDaemon.StartAsync();
        var shortId = pushed.ConfigDigest[7..19];

        var pull = await Berthctl.RunAsync(berth, "pull", pushed.Reference);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        // Not a terminal: plain lines, a line per layer phase, no escape sequences.
        Assert.DoesNotContain('\u001b', pull.Output);
        Assert.Contains($"Pulling {pushed.Reference} (1 layers)", pull.Output);
        Assert.Contains($"{pushed.LayerDigests[0][7..19]}: Pull complete", pull.Output);
        Assert.EndsWith($"Image: {pushed.ConfigDigest}\n{pushed.Reference}\n", pull.Output);

        var tag = await Berthctl.RunAsync(berth, "tag", shortId, "local/renamed:v2");
        Assert.True(tag.ExitCode == 0, tag.ToString());
        var images = await Berthctl.RunAsync(berth, "images");
        var rows = images.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(row => row.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.Equal(["REPOSITORY", "TAG", "IMAGE", "ID", "SIZE"], rows[0]);
        Assert.Contains(rows, row => row[..3].SequenceEqual(["docker.io/local/renamed", "v2", shortId]));
        Assert.Contains(rows, row => row[..3].SequenceEqual([$"{pushed.Registry}/{pushed.Repository}", "v1", shortId]));
        // CRI sees the new tag; a name given on the node has no repo digest.
        var criImage = Assert.Single(await berth.ListAsync());
        Assert.Equal([pushed.Reference, "docker.io/local/renamed:v2"], criImage.RepoTags.Order(StringComparer.Ordinal));
        Assert.Equal([$"{pushed.Registry}/{pushed.Repository}@{pushed.ManifestDigest}"], criImage.RepoDigests);

        var inspect = await Berthctl.RunAsync(berth, "inspect", "local/renamed:v2");
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        using (var json = JsonDocument.Parse(inspect.Output))
        {
            var image = Assert.Single(json.RootElement.EnumerateArray().ToList());
            Assert.Equal(pushed.ConfigDigest, image.GetProperty("Id").GetString());
            Assert.Equal(pushed.DiffIds, image.GetProperty("Layers").EnumerateArray().Select(layer => layer.GetProperty("DiffID").GetString()));
            Assert.Equal("1000:1000", image.GetProperty("Config").GetProperty("config").GetProperty("User").GetString());
        }

        var untag = await Berthctl.RunAsync(berth, "rmi", "local/renamed:v2");
        Assert.Equal("Untagged: docker.io/local/renamed:v2\n", untag.Output);
        var delete = await Berthctl.RunAsync(berth, "rmi", shortId);
        Assert.Equal($"Untagged: {pushed.Reference}\nDeleted: {pushed.ConfigDigest}\n", delete.Output);
        Assert.Empty(await berth.ListAsync());
        Assert.Empty(SnapshotDirectories(berth));
    }

    [Theory]
    [InlineData(new[] { "rmi", "nothing:here" }, "no image nothing:here on this node")]
    [InlineData(new[] { "inspect", "nothing" }, "no image nothing on this node")]
    [InlineData(new[] { "pull", "Bad Reference" }, "invalid image reference \"Bad Reference\": it contains whitespace")]
    [InlineData(new[] { "tag", "nothing", "x:v1" }, "no image nothing on this node")]
    public async Task BadInputIsOneLineOnStderrAndExitCodeOne(string[] arguments, string message)
    {
        await using var berth = await BerthDaemon.StartAsync();

        var result = await Berthctl.RunAsync(berth, arguments);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Output);
        Assert.Equal($"berthctl: {message}\n", result.Error);
    }

    [Theory]
    [InlineData(new[] { "save" }, "Required argument missing for command: 'save'.")]
    [InlineData(new[] { "bogus" }, "Unrecognized command or argument 'bogus'.")]
    [InlineData(new[] { "save", "--format", "zip", "x" }, "Argument 'zip' not recognized. Must be one of:")]
    [InlineData(new[] { "pull", "x", "--user", "nopassword" }, "--user must be USER:PASSWORD")]
    public async Task ACommandLineBerthctlCannotActOnIsExitCodeTwo(string[] arguments, string message)
    {
        await using var berth = await BerthDaemon.StartAsync();

        var result = await Berthctl.RunAsync(berth, arguments);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal("", result.Output);
        Assert.Contains($"berthctl: {message}", result.Error);
        Assert.All(result.Error.TrimEnd('\n').Split('\n'), line => Assert.True(line.StartsWith("berthctl: ") || line.StartsWith("See 'berthctl"), line));
        Assert.DoesNotContain("   at ", result.Error);
    }

    [Fact]
    public async Task FilesAndPipesThatFailAreOneLineAndExitCodeOneWithNoPartialFileLeft()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("io"), "v1", BusyboxImage());
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(pushed.Reference);

        var unwritable = await Berthctl.RunAsync(berth, "save", "-o", "/nonexistent/x.tar", pushed.Reference);
        Assert.Equal((1, "", "berthctl: cannot create /nonexistent/x.tar: its directory does not exist\n"), (unwritable.ExitCode, unwritable.Output, unwritable.Error));
        var missing = await Berthctl.RunAsync(berth, "load", "-i", "/nonexistent/x.tar");
        Assert.Equal((1, "berthctl: cannot open /nonexistent/x.tar: its directory does not exist\n"), (missing.ExitCode, missing.Error));

        // The reader goes away after 10 bytes: the save fails on the broken pipe instead of reporting success.
        var command = $"set -o pipefail; '{Berthctl.ProgramPath()}' save {pushed.Reference} | head -c 10 > /dev/null";
        var piped = await RunShellAsync(berth, command);
        Assert.True(piped.ExitCode == 1, piped.ToString());
        Assert.StartsWith("berthctl: cannot write to stdout: ", piped.Error);
        Assert.DoesNotContain("   at ", piped.Error);

        // A save that fails half way leaves neither the archive nor its .partial file.
        var archive = Path.Combine(berth.TemporaryDirectory, "half.tar");
        var failed = await Berthctl.RunAsync(berth, "save", "-o", archive, pushed.Reference, "absent:v1");
        Assert.Equal(1, failed.ExitCode);
        Assert.Empty(Directory.EnumerateFiles(berth.TemporaryDirectory, "half.tar*"));
    }

    /// <summary>
    /// `-o` naming a symbolic link (such as /dev/stdout) or a FIFO writes through it, as docker save -o does: renaming a
    /// FILE.partial over it replaced the link or FIFO itself (a trial's `save -o /dev/stdout` replaced the node's /dev/stdout).
    /// </summary>
    [Fact]
    public async Task AnOutputThatIsALinkOrAFifoIsWrittenThroughNotReplaced()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("through"), "v1", BusyboxImage());
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(pushed.Reference);

        var target = Path.Combine(berth.TemporaryDirectory, "target.tar");
        var link = Path.Combine(berth.TemporaryDirectory, "link.tar");
        File.CreateSymbolicLink(link, target);
        var viaLink = await Berthctl.RunAsync(berth, "save", "-o", link, pushed.Reference);
        Assert.Equal(0, viaLink.ExitCode);
        Assert.Equal(target, new FileInfo(link).LinkTarget);
        Assert.True(new FileInfo(target).Length > 1024);

        var fifo = Path.Combine(berth.TemporaryDirectory, "fifo.tar");
        var command = $"mkfifo '{fifo}' && {{ wc -c < '{fifo}' & }} && '{Berthctl.ProgramPath()}' save -o '{fifo}' {pushed.Reference} && wait && test -p '{fifo}'";
        var viaFifo = await RunShellAsync(berth, command);
        Assert.True(viaFifo.ExitCode == 0, viaFifo.ToString());
        Assert.Equal(new FileInfo(target).Length, long.Parse(viaFifo.Output.Trim()));
    }

    [Fact]
    public async Task TerminalEscapesInNamesFromAnArchiveArePrintedEscaped()
    {
        var (archive, _) = ImageBuilder.DockerArchive([(BusyboxImage(), ["evil\u001b]0;owned\u0007/x\u001b[2J:v1"])]);
        await using var berth = await BerthDaemon.StartAsync();
        var file = Path.Combine(berth.TemporaryDirectory, "evil.tar");
        await File.WriteAllBytesAsync(file, archive);

        var load = await Berthctl.RunAsync(berth, "load", "-i", file);

        Assert.Equal(1, load.ExitCode);
        Assert.DoesNotContain('\u001b', load.Error);
        Assert.DoesNotContain('\u0007', load.Error);
        Assert.Contains(@"evil\x1b]0;owned\x07/x\x1b[2J:v1", load.Error);
        Assert.Empty(await berth.ListAsync());
    }

    private static async Task<BerthctlResult> RunShellAsync(BerthDaemon berth, string command)
    {
        var start = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        start.Environment["BERTH_ADDRESS"] = $"unix://{berth.AdminSocketPath}";
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        return new BerthctlResult(process.ExitCode, await output, await error);
    }

    [Fact]
    public async Task QuietPrintsOnlyTheNameAndUserGivesCredentialsToATlsRegistryWithAuth()
    {
        await using var secured = await RegistryServer.StartAsync(new RegistryOptions { Tls = true, Credentials = new("puller", "s3cret-Pass") });
        using var builder = new ImageBuilder(secured);
        var pushed = await builder.PushAsync(UniqueRepository("private"), "v1", BusyboxImage());
        await using var berth = await BerthDaemon.StartAsync(new
        {
            registries = new Dictionary<string, object> { [secured.Host] = new { ca = secured.CaCertificatePath } },
        });

        var refused = await Berthctl.RunAsync(berth, "pull", "-q", pushed.Reference);
        Assert.Equal(1, refused.ExitCode);
        Assert.StartsWith($"berthctl: {secured.Host} needs credentials", refused.Error);
        var wrongUsage = await Berthctl.RunAsync(berth, "pull", "--user", "puller", pushed.Reference);
        Assert.Equal("berthctl: --user must be USER:PASSWORD\n", wrongUsage.Error);

        var pulled = await Berthctl.RunAsync(berth, "pull", "-q", "--user", "puller:s3cret-Pass", pushed.Reference);

        Assert.True(pulled.ExitCode == 0, pulled.ToString());
        Assert.Equal($"{pushed.Reference}\n", pulled.Output);
        Assert.Equal(pushed.ConfigDigest, (await berth.StatusAsync(pushed.Reference))?.Id);
    }

    [Fact]
    public async Task OnATerminalThePullIsRedrawnInPlace()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("terminal"), "v1",
            BusyboxImage(new LayerBuilder().File("second.txt", "second layer")));
        await using var berth = await BerthDaemon.StartAsync();

        var result = await Berthctl.RunInTerminalAsync(berth, "pull", pushed.Reference);

        Assert.True(result.ExitCode == 0, result.ToString());
        var screen = result.Output.Replace("\r\n", "\n");
        // Two layer lines, drawn, then redrawn in place: cursor up two lines, each line cleared and written again.
        Assert.Contains("\u001b[2A", screen);
        foreach (var digest in pushed.LayerDigests)
        {
            Assert.Contains($"\u001b[2K{digest[7..19]}: Waiting\n", screen);
            Assert.Contains($"\u001b[2K{digest[7..19]}: Pull complete\n", screen);
        }
        Assert.EndsWith($"Image: {pushed.ConfigDigest}\n{pushed.Reference}\n", screen);
    }

    [Fact]
    public async Task TheAdminSocketIsRootsAloneAndEachSocketServesOnlyItsOwnApi()
    {
        await using var berth = await BerthDaemon.StartAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(berth.AdminSocketPath));
        using (var criChannel = BerthDaemon.CreateChannel(berth.SocketPath))
        {
            var adminOnCri = new Api.Admin.Images.ImagesClient(criChannel);
            var error = await Assert.ThrowsAsync<RpcException>(async () => await adminOnCri.ListAsync(new ListRequest()));
            Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
            Assert.Contains("admin socket", error.Status.Detail);
        }
        using (var adminChannel = BerthDaemon.CreateChannel(berth.AdminSocketPath))
        {
            var criOnAdmin = new Api.Cri.ImageService.ImageServiceClient(adminChannel);
            var error = await Assert.ThrowsAsync<RpcException>(async () => await criOnAdmin.ListImagesAsync(new Api.Cri.ListImagesRequest()));
            Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        }
        Assert.Empty((await berth.Admin.ListAsync(new ListRequest())).Images);
        var unreachable = await Berthctl.RunAsync(berth, "images", "--address", $"unix://{berth.TemporaryDirectory}/absent.sock");
        Assert.Equal(1, unreachable.ExitCode);
        Assert.StartsWith("berthctl: cannot reach berthd's admin socket", unreachable.Error);
    }
}
