using System.Formats.Tar;
using Berth.ImageService;
using Berth.ImageService.Layers;
using static Berth.Tests.Unit.Layers.LayerKit;

namespace Berth.Tests.Unit.Layers;

// These tests make device nodes, chown and set trusted.* xattrs: they need root, as berthd does.
public sealed class LayerUnpackerTests
{
    private static readonly DateTimeOffset Old = new(2001, 2, 3, 4, 5, 6, TimeSpan.Zero);

    [Theory]
    [InlineData(TarEntryFormat.Pax)]
    [InlineData(TarEntryFormat.Gnu)]
    [InlineData(TarEntryFormat.Ustar)]
    public async Task Files_get_content_mode_owner_and_times(TarEntryFormat format)
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder(format)
            .Dir("./", mode: (UnixFileMode)0b111_000_000, uid: 99)   // the root entry is the snapshotter's: skipped
            .Dir("./usr/", mtime: Old)
            .Dir("./usr/bin/", mtime: Old)
            .File("./usr/bin/tool", "#!/bin/sh\necho hi\n", mode: (UnixFileMode)0b100_111_101_101, uid: 1234, gid: 5678, mtime: Old)
            .File("usr/bin/sgid", "g", mode: (UnixFileMode)0b010_111_101_101, uid: 0, gid: 42)
            .File("etc/passwd", "root:x:0:0::/root:/bin/sh\n", mode: (UnixFileMode)0b110_100_100)
            .File("empty", "", mode: (UnixFileMode)0b110_000_000)
            .ToArray();

        UnpackResult result = await UnpackAsync(tar, layout.Target);

        Assert.Equal(Sha256(tar), result.DiffId);
        Assert.Equal(tar.Length, result.UncompressedSize);

        string tool = layout.InLayer("usr/bin/tool");
        Assert.Equal("#!/bin/sh\necho hi\n", File.ReadAllText(tool));
        Interop.FileStatus st = Stat(tool);
        Assert.Equal(Interop.FileType.RegularFile, st.Type);
        Assert.Equal((UnixFileMode)0b100_111_101_101, st.Permissions); // 04755: setuid survives the chown
        Assert.Equal(1234u, st.Uid);
        Assert.Equal(5678u, st.Gid);
        Assert.Equal(Old, st.ModificationTime);

        Interop.FileStatus sgid = Stat(layout.InLayer("usr/bin/sgid"));
        Assert.Equal((UnixFileMode)0b010_111_101_101, sgid.Permissions);
        Assert.Equal(42u, sgid.Gid);

        Assert.Equal("root:x:0:0::/root:/bin/sh\n", File.ReadAllText(layout.InLayer("etc/passwd")));
        Assert.Equal((UnixFileMode)0b110_000_000, Stat(layout.InLayer("empty")).Permissions);
        Assert.Equal(0ul, Stat(layout.InLayer("empty")).Size);

        Assert.Equal(0u, Stat(layout.Target).Uid);

        // "etc" had no entry of its own: made 0755 root:root.
        Interop.FileStatus etc = Stat(layout.InLayer("etc"));
        Assert.Equal(Interop.FileType.Directory, etc.Type);
        Assert.Equal((UnixFileMode)0b111_101_101, etc.Permissions);
        Assert.Equal(0u, etc.Uid);
    }

    [Fact]
    public async Task Directories_get_mode_owner_and_their_times_after_their_children()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .Dir("tmp/", mode: (UnixFileMode)0b001_111_111_111, mtime: Old)       // 01777: sticky
            .Dir("home/", mtime: Old)
            .Dir("home/user/", mode: (UnixFileMode)0b111_000_000, uid: 1000, gid: 1000, mtime: Old)
            .File("home/user/.profile", "x", uid: 1000, gid: 1000)
            .File("tmp/later", "written after the directory entry")
            .ToArray();

        await UnpackAsync(tar, layout.Target);

        Interop.FileStatus tmp = Stat(layout.InLayer("tmp"));
        Assert.Equal(Interop.FileType.Directory, tmp.Type);
        Assert.Equal((UnixFileMode)0b001_111_111_111, tmp.Permissions);
        Assert.Equal(Old, tmp.ModificationTime);

        Interop.FileStatus user = Stat(layout.InLayer("home/user"));
        Assert.Equal((UnixFileMode)0b111_000_000, user.Permissions);
        Assert.Equal(1000u, user.Uid);
        Assert.Equal(1000u, user.Gid);
        Assert.Equal(Old, user.ModificationTime);
        Assert.Equal(Old, Stat(layout.InLayer("home")).ModificationTime);
    }

    [Fact]
    public async Task An_existing_directory_keeps_its_children_and_takes_the_new_metadata()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .Dir("d/", mode: (UnixFileMode)0b111_101_101)
            .File("d/kept", "still here")
            .Dir("d/", mode: (UnixFileMode)0b111_000_000, uid: 7, gid: 8, mtime: Old)
            .ToArray();

        await UnpackAsync(tar, layout.Target);

        Assert.Equal("still here", File.ReadAllText(layout.InLayer("d/kept")));
        Interop.FileStatus d = Stat(layout.InLayer("d"));
        Assert.Equal((UnixFileMode)0b111_000_000, d.Permissions);
        Assert.Equal(7u, d.Uid);
        Assert.Equal(Old, d.ModificationTime);
    }

    [Fact]
    public async Task A_later_entry_replaces_an_earlier_non_directory_and_a_directory_tree()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .File("a", "first")
            .Symlink("a", "/elsewhere")          // file → symlink
            .Symlink("b", "/etc")
            .File("b", "now a file")             // symlink → file, not written through
            .Dir("c/")
            .File("c/deep/child", "x")
            .File("c", "a file where a tree was") // directory tree → file
            .File("d", "x")
            .Dir("d/")                           // file → directory
            .ToArray();

        await UnpackAsync(tar, layout.Target);

        Assert.Equal("/elsewhere", new FileInfo(layout.InLayer("a")).LinkTarget);
        Assert.Equal(Interop.FileType.RegularFile, Stat(layout.InLayer("b")).Type);
        Assert.Equal("now a file", File.ReadAllText(layout.InLayer("b")));
        Assert.Equal("a file where a tree was", File.ReadAllText(layout.InLayer("c")));
        Assert.Equal(Interop.FileType.Directory, Stat(layout.InLayer("d")).Type);
        Assert.Equal(["layer"], layout.ParentListing());
    }

    [Theory]
    [InlineData(TarEntryFormat.Pax)]
    [InlineData(TarEntryFormat.Gnu)]
    public async Task Symlinks_are_kept_as_written_absolute_or_relative(TarEntryFormat format)
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder(format)
            .Symlink("bin", "usr/bin")
            .Symlink("usr/bin/env-link", "/usr/bin/env", uid: 33, gid: 44)
            .Symlink("up", "../../../../etc/shadow")
            .Symlink("root", "/")
            .ToArray();

        await UnpackAsync(tar, layout.Target);

        Assert.Equal("usr/bin", new FileInfo(layout.InLayer("bin")).LinkTarget);
        Assert.Equal("/usr/bin/env", new FileInfo(layout.InLayer("usr/bin/env-link")).LinkTarget);
        Assert.Equal("../../../../etc/shadow", new FileInfo(layout.InLayer("up")).LinkTarget);
        Assert.Equal("/", new FileInfo(layout.InLayer("root")).LinkTarget);
        Interop.FileStatus link = Stat(layout.InLayer("usr/bin/env-link"));
        Assert.Equal(Interop.FileType.SymbolicLink, link.Type);
        Assert.Equal(33u, link.Uid);
        Assert.Equal(44u, link.Gid);
    }

    [Fact]
    public async Task Entries_may_go_through_a_symlink_that_stays_inside_the_layer()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .Dir("usr/lib/")
            .Symlink("lib", "usr/lib")
            .Symlink("usr/lib64", "../usr/lib")
            .File("lib/libc.so", "c")
            .File("usr/lib64/libm.so", "m")
            .ToArray();

        await UnpackAsync(tar, layout.Target);

        Assert.Equal("c", File.ReadAllText(layout.InLayer("usr/lib/libc.so")));
        Assert.Equal("m", File.ReadAllText(layout.InLayer("usr/lib/libm.so")));
        Assert.Equal(Interop.FileType.SymbolicLink, Stat(layout.InLayer("lib")).Type);
    }

    [Fact]
    public async Task Hard_links_share_the_inode()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .File("usr/bin/python3.11", "interpreter", mode: (UnixFileMode)0b111_101_101)
            .HardLink("usr/bin/python3", "usr/bin/python3.11")
            .HardLink("./python", "./usr/bin/python3.11")
            .Symlink("usr/bin/link", "/nowhere")
            .HardLink("usr/bin/link2", "usr/bin/link")   // a hard link to a symlink links the symlink itself
            .ToArray();

        await UnpackAsync(tar, layout.Target);

        Interop.FileStatus original = Stat(layout.InLayer("usr/bin/python3.11"));
        Assert.Equal(original.Inode, Stat(layout.InLayer("usr/bin/python3")).Inode);
        Assert.Equal(original.Inode, Stat(layout.InLayer("python")).Inode);
        Assert.Equal(3u, original.LinkCount);
        Assert.Equal("interpreter", File.ReadAllText(layout.InLayer("python")));
        Interop.FileStatus link2 = Stat(layout.InLayer("usr/bin/link2"));
        Assert.Equal(Interop.FileType.SymbolicLink, link2.Type);
        Assert.Equal(Stat(layout.InLayer("usr/bin/link")).Inode, link2.Inode);
    }

    [Theory]
    [InlineData(TarEntryFormat.Pax)]
    [InlineData(TarEntryFormat.Gnu)]
    public async Task Devices_and_fifos_are_made_with_mknod(TarEntryFormat format)
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder(format)
            .Device("dev/null", TarEntryType.CharacterDevice, 1, 3, (UnixFileMode)0b110_110_110)
            .Device("dev/loop0", TarEntryType.BlockDevice, 7, 0, (UnixFileMode)0b110_110_000)
            .Device("dev/big", TarEntryType.BlockDevice, 259, 70000)  // past the old 8-bit minor
            .Fifo("run/initctl", (UnixFileMode)0b110_000_000)
            .ToArray();

        await UnpackAsync(tar, layout.Target);

        Interop.FileStatus nul = Stat(layout.InLayer("dev/null"));
        Assert.Equal(Interop.FileType.CharacterDevice, nul.Type);
        Assert.Equal((1u, 3u), (nul.RDeviceMajor, nul.RDeviceMinor));
        Assert.Equal((UnixFileMode)0b110_110_110, nul.Permissions);

        Interop.FileStatus loop = Stat(layout.InLayer("dev/loop0"));
        Assert.Equal(Interop.FileType.BlockDevice, loop.Type);
        Assert.Equal((7u, 0u), (loop.RDeviceMajor, loop.RDeviceMinor));
        Assert.Equal((UnixFileMode)0b110_110_000, loop.Permissions);

        Interop.FileStatus big = Stat(layout.InLayer("dev/big"));
        Assert.Equal((259u, 70000u), (big.RDeviceMajor, big.RDeviceMinor));

        Interop.FileStatus fifo = Stat(layout.InLayer("run/initctl"));
        Assert.Equal(Interop.FileType.Fifo, fifo.Type);
        Assert.Equal((UnixFileMode)0b110_000_000, fifo.Permissions);
    }

    [Fact]
    public async Task Pax_xattrs_are_set_on_files_directories_and_symlinks()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .Dir("d/", xattrs: new Dictionary<string, string> { ["user.dir"] = "on a dir", ["trusted.berth.test"] = "t" })
            .File("d/f", "x", xattrs: new Dictionary<string, string> { ["user.mime_type"] = "text/plain", ["trusted.berth.file"] = "yes" })
            .Symlink("d/l", "/target", xattrs: new Dictionary<string, string> { ["trusted.berth.link"] = "on the link" })
            .ToArray();

        await UnpackAsync(tar, layout.Target);

        Assert.Equal("on a dir", Xattr(layout.InLayer("d"), "user.dir"));
        Assert.Equal("t", Xattr(layout.InLayer("d"), "trusted.berth.test"));
        Assert.Equal("text/plain", Xattr(layout.InLayer("d/f"), "user.mime_type"));
        Assert.Equal("yes", Xattr(layout.InLayer("d/f"), "trusted.berth.file"));
        Assert.Equal("on the link", Xattr(layout.InLayer("d/l"), "trusted.berth.link"));
        Assert.Null(Xattr(layout.InLayer("d/f"), "user.absent"));
    }

    [Fact]
    public async Task Binary_xattr_values_are_written_byte_for_byte()
    {
        // vfs_cap_data revision 2, effective, permitted = CAP_SETUID (bit 7: a 0x80 byte, which is not UTF-8),
        // as newuidmap carries it.
        byte[] capSetuid = [0x01, 0x00, 0x00, 0x02, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        byte[] blob = [0x00, 0xff, 0xfe, 0x80, 0x41, 0xc3];
        using var layout = new TempLayout();
        string longName = "usr/share/" + new string('n', 150);
        byte[] tar = new TarBuilder()
            .File(longName, "a member with a long name first, so the framing has a PAX path record to follow")
            .File("usr/bin/newuidmap", "elf", mode: (UnixFileMode)0b111_101_101,
                xattrs: new Dictionary<string, string> { ["security.capability"] = "CAPCAPCAPCAPCAPCAPCA", ["user.blob"] = "BLOBBL" })
            .File("after", "y", xattrs: new Dictionary<string, string> { ["user.plain"] = "text" })
            .ToArray();
        tar = Patch(Patch(tar, "CAPCAPCAPCAPCAPCAPCA", capSetuid), "BLOBBL", blob);

        UnpackResult result = await UnpackAsync(tar, layout.Target);

        string newuidmap = layout.InLayer("usr/bin/newuidmap");
        Assert.Equal(capSetuid, Interop.Sys.LGetXattr(newuidmap, "security.capability"));
        Assert.Equal(blob, Interop.Sys.LGetXattr(newuidmap, "user.blob"));
        Assert.Equal("text", Xattr(layout.InLayer("after"), "user.plain"));
        Assert.True(File.Exists(layout.InLayer(longName)));
        Assert.Equal(Sha256(tar), result.DiffId);
    }

    [Fact]
    public async Task A_pax_header_over_one_mebibyte_is_refused()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .File("f", "x", xattrs: new Dictionary<string, string> { ["user.huge"] = new string('h', 1_100_000) })
            .ToArray();

        InvalidLayerException e = await Assert.ThrowsAsync<InvalidLayerException>(() => UnpackAsync(tar, layout.Target));
        Assert.Contains("PAX extended header", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Whiteouts_become_overlayfs_whiteouts()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .Dir("etc/", mtime: Old)
            .File("etc/.wh.motd")
            .File(".wh.gone-dir")
            .Dir("var/cache/")
            .File("var/cache/.wh..wh..opq")
            .File("opaque-without-entry/.wh..wh..opq")
            .File(".wh..wh.plnk")
            .File(".wh..wh..wh.aufs-thing")
            .ToArray();

        await UnpackAsync(tar, layout.Target);

        foreach (string whiteout in new[] { "etc/motd", "gone-dir" })
        {
            Interop.FileStatus st = Stat(layout.InLayer(whiteout));
            Assert.Equal(Interop.FileType.CharacterDevice, st.Type);
            Assert.Equal((0u, 0u), (st.RDeviceMajor, st.RDeviceMinor));
        }
        Assert.False(Exists(layout.InLayer("etc/.wh.motd")));
        Assert.Equal(Old, Stat(layout.InLayer("etc")).ModificationTime);

        Assert.Equal("y", Xattr(layout.InLayer("var/cache"), "trusted.overlay.opaque"));
        Assert.Equal("y", Xattr(layout.InLayer("opaque-without-entry"), "trusted.overlay.opaque"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(layout.InLayer("var/cache")));
        Assert.False(Exists(layout.InLayer(".wh..wh.plnk")));
        Assert.False(Exists(layout.InLayer("plnk")));
        Assert.Equal(["etc", "gone-dir", "opaque-without-entry", "var"], Listing(layout.Target));
    }

    [Fact]
    public async Task A_whiteout_does_not_hide_a_file_of_its_own_layer_but_a_later_file_replaces_it()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .File("kept", "same layer")
            .File(".wh.kept")
            .File(".wh.back")
            .File("back", "recreated")
            .ToArray();

        await UnpackAsync(tar, layout.Target);

        Assert.Equal("same layer", File.ReadAllText(layout.InLayer("kept")));
        Assert.Equal("recreated", File.ReadAllText(layout.InLayer("back")));
    }

    [Fact]
    public async Task Gzip_zstd_and_plain_give_the_same_diff_id()
    {
        byte[] tar = new TarBuilder()
            .Dir("app/")
            .File("app/data.bin", new string('z', 300_000))
            .File("app/readme", "hello")
            .ToArray();
        string expected = Sha256(tar);

        var results = new List<UnpackResult>();
        foreach ((byte[] blob, string mediaType) in new[] { (tar, TarMediaType), (Gzip(tar), GzipMediaType), (Zstd(tar), ZstdMediaType) })
        {
            using var layout = new TempLayout();
            results.Add(await UnpackAsync(blob, layout.Target, mediaType));
            Assert.Equal(new string('z', 300_000), File.ReadAllText(layout.InLayer("app/data.bin")));
        }

        Assert.All(results, r => Assert.Equal(expected, r.DiffId));
        Assert.All(results, r => Assert.Equal(tar.Length, r.UncompressedSize));
    }

    [Fact]
    public async Task The_magic_bytes_win_over_the_media_type()
    {
        byte[] tar = new TarBuilder().File("f", "x").ToArray();
        using var layout = new TempLayout();

        UnpackResult result = await UnpackAsync(Zstd(tar), layout.Target, GzipMediaType);

        Assert.Equal(Sha256(tar), result.DiffId);
        Assert.Equal("x", File.ReadAllText(layout.InLayer("f")));
    }

    [Fact]
    public async Task Padding_after_the_end_of_archive_counts_in_the_diff_id()
    {
        byte[] tar = [.. new TarBuilder().File("f", "x").ToArray(), .. new byte[10240]];
        using var layout = new TempLayout();

        UnpackResult result = await UnpackAsync(Gzip(tar), layout.Target, GzipMediaType);

        Assert.Equal(Sha256(tar), result.DiffId);
        Assert.Equal(tar.Length, result.UncompressedSize);
    }

    [Fact]
    public async Task A_corrupt_archive_is_an_invalid_layer()
    {
        byte[] tar = new TarBuilder().File("f", new string('x', 5000)).File("g", "y").ToArray();
        byte[] garbage = new byte[2048];
        new Random(42).NextBytes(garbage);
        byte[] badSize = (byte[])tar.Clone();
        "99999999999"u8.CopyTo(badSize.AsSpan(124)); // the first header's size field: not octal
        byte[] gzip = Gzip(tar);
        byte[] zstd = Zstd(tar);
        byte[] zstdCorrupt = (byte[])zstd.Clone();
        zstdCorrupt[zstd.Length / 2] ^= 0xff;

        foreach ((byte[] blob, string mediaType) in new[]
        {
            (garbage, TarMediaType),
            (badSize, TarMediaType),
            (tar[..3000], TarMediaType),                   // truncated inside the data of "f"
            (gzip[..(gzip.Length / 2)], GzipMediaType),    // truncated gzip
            ([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x01, 0x02], GzipMediaType),
            (zstdCorrupt, ZstdMediaType),
            (zstd[..(zstd.Length - 5)], ZstdMediaType),
        })
        {
            using var layout = new TempLayout();
            Exception? e = await Record.ExceptionAsync(() => UnpackAsync(blob, layout.Target, mediaType));
            Assert.True(e is InvalidLayerException, $"{mediaType} blob of {blob.Length} bytes: {e?.ToString() ?? "no exception"}");
        }
    }

    [Fact]
    public async Task The_empty_layer_is_two_zero_blocks_and_an_empty_blob_is_no_layer()
    {
        using (var layout = new TempLayout())
        {
            UnpackResult result = await UnpackAsync(Gzip(new byte[1024]), layout.Target, GzipMediaType);
            // The well-known diff ID of Docker's empty layer.
            Assert.Equal("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef", result.DiffId);
            Assert.Equal(1024, result.UncompressedSize);
            Assert.Empty(Listing(layout.Target));
        }

        using (var layout = new TempLayout())
        {
            await Assert.ThrowsAsync<InvalidLayerException>(() => UnpackAsync([], layout.Target));
        }
    }

    [Fact]
    public async Task Cancellation_is_honoured()
    {
        byte[] tar = new TarBuilder().File("f", "x").ToArray();
        using var layout = new TempLayout();
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => UnpackAsync(tar, layout.Target, cancellationToken: cts.Token));
    }

    [Fact]
    public async Task Cancellation_between_entries_stops_the_unpack()
    {
        var builder = new TarBuilder();
        for (int i = 0; i < 200; i++)
        {
            builder.File($"files/{i}", new string('c', 1000));
        }
        byte[] tar = builder.ToArray();
        using var layout = new TempLayout();
        using var cts = new CancellationTokenSource();
        var blob = new CancelAfterStream(new MemoryStream(tar), cts, after: tar.Length / 3);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => LayerUnpacker.UnpackAsync(blob, TarMediaType, layout.Target, cts.Token));
        Assert.InRange(Listing(layout.InLayer("files")).Length, 1, 199);
        Assert.Equal(["layer"], layout.ParentListing());
    }

    [Fact]
    public async Task The_target_must_be_empty()
    {
        byte[] tar = new TarBuilder().File("f", "x").ToArray();
        using var layout = new TempLayout();
        File.WriteAllText(layout.InLayer("already"), "here");

        await Assert.ThrowsAsync<ArgumentException>(() => UnpackAsync(tar, layout.Target));
    }

    /// <summary>Cancels its token once a given number of bytes has been read.</summary>
    private sealed class CancelAfterStream(Stream inner, CancellationTokenSource cts, long after) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, Math.Min(count, 4096));
            _read += n;
            if (_read >= after)
            {
                cts.Cancel();
            }
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
