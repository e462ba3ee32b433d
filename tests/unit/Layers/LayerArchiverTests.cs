using System.Formats.Tar;
using System.Net.Sockets;
using Berth.ImageService.Layers;
using static Berth.Tests.Unit.Layers.LayerKit;

namespace Berth.Tests.Unit.Layers;

/// <summary>
/// LayerArchiver on overlay directories made by the unpacker itself (so whiteouts are real 0/0 devices and opaque
/// directories carry trusted.overlay.opaque): a container's diff turned back into an OCI layer, and the merged view.
/// </summary>
public sealed class LayerArchiverTests
{
    [Fact]
    public async Task A_diff_turns_overlay_whiteouts_into_OCI_ones_keeps_links_and_skips_sockets()
    {
        using var upper = new TempLayout();
        await UnpackAsync(new TarBuilder()
            .Dir("etc/")
            .File("etc/.wh.motd")
            .File(".wh.gone")
            .Dir("cache/")
            .File("cache/.wh..wh..opq")
            .File("cache/new", "new")
            .File("file", "content", mode: (UnixFileMode)0b111_101_000, uid: 7, gid: 8)
            .HardLink("link", "file")
            .Symlink("abs", "/etc/passwd")
            .Fifo("pipe")
            .ToArray(), upper.Target);
        // Kept open: .NET unlinks a socket file it bound when the socket closes.
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(upper.InLayer("etc/sock")));

        var (entries, summary) = await ArchiveAsync(stream => LayerArchiver.WriteDiffAsync(upper.Target, stream, default));

        // In the order of the names in the upper dir: a whiteout stands where the name it hides would.
        Assert.Equal(
            ["abs", "cache/", "cache/.wh..wh..opq", "cache/new", "etc/", "etc/.wh.motd", "file", ".wh.gone", "link", "pipe"],
            entries.Select(entry => entry.Name));
        Assert.Equal(["etc/sock"], summary.Skipped);
        var file = entries.Single(entry => entry.Name == "file");
        Assert.Equal((TarEntryType.RegularFile, 7, 8, (UnixFileMode)0b111_101_000), (file.EntryType, file.Uid, file.Gid, file.Mode));
        Assert.Equal((TarEntryType.HardLink, "file"), (entries.Single(entry => entry.Name == "link").EntryType, entries.Single(entry => entry.Name == "link").LinkName));
        Assert.Equal("/etc/passwd", entries.Single(entry => entry.Name == "abs").LinkName);
        Assert.Equal(TarEntryType.Fifo, entries.Single(entry => entry.Name == "pipe").EntryType);

        // Unpacked again, the layer gives back the same overlay directory.
        using var again = new TempLayout();
        var tar = await ArchiveBytesAsync(stream => LayerArchiver.WriteDiffAsync(upper.Target, stream, default));
        await UnpackAsync(tar, again.Target);
        Assert.Equal(Interop.FileType.CharacterDevice, Stat(again.InLayer("etc/motd")).Type);
        Assert.Equal("y", Xattr(again.InLayer("cache"), "trusted.overlay.opaque"));
        Assert.Equal("new", File.ReadAllText(again.InLayer("cache/new")));
    }

    [Fact]
    public async Task A_diff_of_an_unchanged_container_is_the_empty_layer_docker_commit_makes()
    {
        using var upper = new TempLayout();

        var tar = await ArchiveBytesAsync(stream => LayerArchiver.WriteDiffAsync(upper.Target, stream, default));

        // Two zero blocks: a tar with no entry, whose diff ID is Docker's well-known empty layer.
        Assert.Equal(new byte[1024], tar);
        Assert.Equal("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
            "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(tar)));
        using var again = new TempLayout();
        await UnpackAsync(tar, again.Target);
        Assert.Empty(Directory.EnumerateFileSystemEntries(again.Target));
    }

    [Fact]
    public async Task A_diff_carries_device_nodes_as_every_layer_path_makes_them()
    {
        using var upper = new TempLayout();
        await UnpackAsync(new TarBuilder()
            .Device("dev/null", TarEntryType.CharacterDevice, 1, 3)
            .Device("dev/loop0", TarEntryType.BlockDevice, 7, 0)
            .ToArray(), upper.Target);

        var (entries, summary) = await ArchiveAsync(stream => LayerArchiver.WriteDiffAsync(upper.Target, stream, default));

        Assert.Empty(summary.Skipped);
        var nul = (PaxTarEntry)entries.Single(entry => entry.Name == "dev/null");
        Assert.Equal((TarEntryType.CharacterDevice, 1, 3), (nul.EntryType, nul.DeviceMajor, nul.DeviceMinor));
        Assert.Equal(TarEntryType.BlockDevice, entries.Single(entry => entry.Name == "dev/loop0").EntryType);
    }

    [Fact]
    public async Task The_merged_view_hides_whiteouts_and_what_opaque_directories_cover()
    {
        using var lower = new TempLayout();
        await UnpackAsync(new TarBuilder()
            .Dir("a/").File("a/x", "x").File("a/y", "y")
            .Dir("b/").File("b/z", "z")
            .Dir("c/").File("c/old", "old")
            .File("d", "lower d")
            .Dir("e/").File("e/deep", "deep")
            .ToArray(), lower.Target);
        using var upper = new TempLayout();
        await UnpackAsync(new TarBuilder()
            .Dir("a/").File("a/.wh.x")
            .File(".wh.b")
            .Dir("c/").File("c/.wh..wh..opq").File("c/new", "new")
            .File("d", "upper d")
            .File("e", "a file over a directory")
            .ToArray(), upper.Target);

        var tar = await ArchiveBytesAsync(stream => LayerArchiver.WriteMergedAsync([upper.Target, lower.Target], stream, default));
        var (entries, _) = await ReadAsync(tar);

        Assert.Equal(["a/", "a/y", "c/", "c/new", "d", "e"], entries.Select(entry => entry.Name));
        using var unpacked = new TempLayout();
        await UnpackAsync(tar, unpacked.Target);
        Assert.Equal("upper d", File.ReadAllText(unpacked.InLayer("d")));
        Assert.Equal("a file over a directory", File.ReadAllText(unpacked.InLayer("e")));
    }

    [Fact]
    public async Task A_symlinked_directory_is_archived_as_a_link_and_never_followed()
    {
        using var upper = new TempLayout();
        await UnpackAsync(new TarBuilder().Symlink("escape", "/").Symlink("up", "../..").ToArray(), upper.Target);

        var (entries, _) = await ArchiveAsync(stream => LayerArchiver.WriteMergedAsync([upper.Target], stream, default));

        Assert.Equal([("escape", TarEntryType.SymbolicLink), ("up", TarEntryType.SymbolicLink)], entries.Select(entry => (entry.Name, entry.EntryType)));
    }

    private static async Task<byte[]> ArchiveBytesAsync(Func<Stream, Task<ArchiveSummary>> write)
    {
        using var buffer = new MemoryStream();
        await write(buffer);
        return buffer.ToArray();
    }

    private static async Task<(List<TarEntry> Entries, ArchiveSummary Summary)> ArchiveAsync(Func<Stream, Task<ArchiveSummary>> write)
    {
        using var buffer = new MemoryStream();
        var summary = await write(buffer);
        return ((await ReadAsync(buffer.ToArray())).Entries, summary);
    }

    private static async Task<(List<TarEntry> Entries, int Count)> ReadAsync(byte[] tar)
    {
        var entries = new List<TarEntry>();
        await using var reader = new TarReader(new MemoryStream(tar));
        while (await reader.GetNextEntryAsync(copyData: true) is { } entry)
        {
            entries.Add(entry);
        }
        return (entries, entries.Count);
    }
}
