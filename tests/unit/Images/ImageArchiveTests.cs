using System.Formats.Tar;
using System.Security.Cryptography;
using Berth.Core.Errors;
using Berth.ImageService.Images;

namespace Berth.Tests.Unit.Images;

/// <summary>What an archive's spool takes in: only members an archive format names, and blobs only as their names state.</summary>
public sealed class ImageArchiveTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("berth-archive-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task MembersNoArchiveFormatNamesArePassedOverUnwritten()
    {
        var blob = "{}"u8.ToArray();
        var blobName = "blobs/sha256/" + Convert.ToHexStringLower(SHA256.HashData(blob));
        var archive = Tar(("junk.bin", new byte[1 << 20]), ("a/b/c", [1, 2, 3]), (blobName, blob), ("manifest.json", "[]"u8.ToArray()),
            (new string('a', 64) + "/layer.tar", [0]), (new string('b', 64) + ".json", "{}"u8.ToArray()));

        var contents = await ImageArchive.ExtractAsync(new MemoryStream(archive), _directory, default);

        Assert.Equal(2, contents.SkippedMembers);
        var written = Directory.EnumerateFiles(_directory, "*", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(_directory, path)).Order(StringComparer.Ordinal);
        Assert.Equal(new[] { blobName, "manifest.json", new string('a', 64) + "/layer.tar", new string('b', 64) + ".json" }.Order(StringComparer.Ordinal), written);
        Assert.False(contents.Has("junk.bin"));
    }

    [Fact]
    public async Task ABlobWhoseContentIsNotItsNameIsRefusedAsItIsRead()
    {
        var archive = Tar(("blobs/sha256/" + new string('0', 64), "tampered"u8.ToArray()));

        var error = await Assert.ThrowsAsync<BerthException>(() => ImageArchive.ExtractAsync(new MemoryStream(archive), _directory, default));

        Assert.Equal(ErrorKind.DataLoss, error.Kind);
        Assert.Contains("changed or damaged", error.Message);
    }

    [Fact]
    public async Task AJsonMemberOverEightMebibytesIsRefused()
    {
        var archive = Tar(("manifest.json", new byte[(8 << 20) + 1]));

        var error = await Assert.ThrowsAsync<BerthException>(() => ImageArchive.ExtractAsync(new MemoryStream(archive), _directory, default));

        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("'manifest.json' is 8388609 bytes", error.Message);
    }

    [Fact]
    public async Task SpoolingStopsBeforeTheFilesystemIsUnderATenthFree()
    {
        // A 4 MiB tmpfs (this suite runs as root, as berthd does) and a well-formed 8 MiB blob that nothing references.
        var small = Directory.CreateDirectory(Path.Combine(_directory, "small")).FullName;
        Mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", small);
        try
        {
            var blob = RandomNumberGenerator.GetBytes(8 << 20);
            var archive = Tar(("blobs/sha256/" + Convert.ToHexStringLower(SHA256.HashData(blob)), blob), ("index.json", "{}"u8.ToArray()));

            var error = await Assert.ThrowsAsync<BerthException>(() => ImageArchive.ExtractAsync(new MemoryStream(archive), small, default));

            Assert.Equal(ErrorKind.ResourceExhausted, error.Kind);
            Assert.StartsWith("the archive would fill the disk: ", error.Message);
        }
        finally
        {
            Mount("-u", small);
        }
    }

    /// <summary>mount(8) with <paramref name="arguments"/>, or umount(8) for "-u DIR".</summary>
    private static void Mount(params string[] arguments)
    {
        var start = arguments[0] == "-u" ? new System.Diagnostics.ProcessStartInfo("umount", [arguments[1]]) : new System.Diagnostics.ProcessStartInfo("mount", arguments);
        using var process = System.Diagnostics.Process.Start(start)!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    private static byte[] Tar(params (string Name, byte[] Content)[] members)
    {
        using var buffer = new MemoryStream();
        using (var writer = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, content) in members)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
            }
        }
        return buffer.ToArray();
    }
}
