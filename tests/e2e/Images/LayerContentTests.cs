using System.Diagnostics;
using System.Formats.Tar;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Images;

public sealed class LayerContentTests(SharedRegistry registry) : IClassFixture<SharedRegistry>
{
    [Fact]
    public async Task WhiteoutsAndOpaqueDirectoriesHideLowerLayersInTheOverlay()
    {
        var lower = LayerBuilder.Busybox()
            .Directory("data").File("data/keep", "keep").File("data/gone", "gone")
            .Directory("cache").File("cache/old", "old");
        var upper = new LayerBuilder { Compression = LayerCompression.Zstd }
            .Whiteout("data/gone")
            .Directory("cache").OpaqueDirectory("cache").File("cache/new", "new")
            .Whiteout("bin/ls");
        var pushed = await registry.Builder.PushAsync(UniqueRepository("whiteouts"), "v1", new ImageSpec { Layers = [lower, upper] });
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(pushed.Reference);
        var snapshots = await berth.SnapshotsAsync(pushed.Reference);

        var merged = Directory.CreateTempSubdirectory("berth-e2e-overlay-").FullName;
        try
        {
            Run("mount", "-t", "overlay", "overlay", "-o", $"lowerdir={snapshots[1]}:{snapshots[0]}", merged);
            try
            {
                Assert.Equal("keep", File.ReadAllText(Path.Combine(merged, "data", "keep")));
                Assert.False(File.Exists(Path.Combine(merged, "data", "gone")));
                Assert.Equal(["new"], Directory.EnumerateFileSystemEntries(Path.Combine(merged, "cache")).Select(Path.GetFileName));
                Assert.False(File.Exists(Path.Combine(merged, "bin", "ls")));
                Assert.True(File.Exists(Path.Combine(merged, "bin", "sh")));
            }
            finally
            {
                Run("umount", merged);
            }
        }
        finally
        {
            Directory.Delete(merged);
        }
    }

    public static TheoryData<string> EscapeKinds => ["dotdot", "absolute", "nested-dotdot", "absolute-symlink", "relative-symlink", "hardlink-outside", "hardlink-through-symlink"];

    [Theory]
    [MemberData(nameof(EscapeKinds))]
    public async Task AHostileLayerFailsThePullAndWritesNothingOutside(string kind)
    {
        var victim = Directory.CreateTempSubdirectory("berth-e2e-victim-").FullName;
        var marker = $"pwned-{Guid.NewGuid():N}";
        try
        {
            var hostile = HostileLayer(kind, victim, marker);
            var pushed = await registry.Builder.PushAsync(UniqueRepository("hostile"), "v1", new ImageSpec { Layers = [LayerBuilder.Busybox(), hostile] });
            await using var berth = await BerthDaemon.StartAsync();

            var error = await ExpectFailureAsync(() => berth.PullAsync(pushed.Reference), StatusCode.FailedPrecondition);

            Assert.Contains($"layer {pushed.LayerDigests[1]} of {pushed.Reference} is refused", error.Status.Detail);
            Assert.Empty(Directory.EnumerateFileSystemEntries(victim));
            Assert.False(File.Exists("/" + marker));
            Assert.Empty(Directory.EnumerateFileSystemEntries(berth.Root, marker + "*", SearchOption.AllDirectories));
            Assert.Empty(await berth.ListAsync());
            Assert.Empty(Leftovers(berth));
        }
        finally
        {
            Directory.Delete(victim, recursive: true);
        }
    }

    private static LayerBuilder HostileLayer(string kind, string victim, string marker)
    {
        var payload = "owned"u8.ToArray();
        var layer = new LayerBuilder();
        return kind switch
        {
            "dotdot" => layer.Raw(TarEntryType.RegularFile, $"../../../../../../../..{victim}/{marker}", content: payload),
            "absolute" => layer.Raw(TarEntryType.RegularFile, $"/{marker}", content: payload),
            "nested-dotdot" => layer.Raw(TarEntryType.Directory, "a").Raw(TarEntryType.RegularFile, $"a/../../{marker}", content: payload),
            "absolute-symlink" => layer.Raw(TarEntryType.SymbolicLink, "evil", linkName: victim).Raw(TarEntryType.RegularFile, $"evil/{marker}", content: payload),
            "relative-symlink" => layer.Raw(TarEntryType.SymbolicLink, "up", linkName: "../../../../../../../../.." + victim)
                .Raw(TarEntryType.RegularFile, $"up/{marker}", content: payload),
            "hardlink-outside" => layer.Raw(TarEntryType.HardLink, marker, linkName: "../../../../../../../../etc/passwd"),
            "hardlink-through-symlink" => layer.Raw(TarEntryType.SymbolicLink, "root", linkName: "/")
                .Raw(TarEntryType.HardLink, marker, linkName: "root/etc/passwd"),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)}: {error}");
    }
}
