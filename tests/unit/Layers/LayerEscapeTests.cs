using Berth.ImageService.Layers;
using static Berth.Tests.Unit.Layers.LayerKit;

namespace Berth.Tests.Unit.Layers;

/// <summary>
/// Each hostile layer must be refused with <see cref="UnsafeLayerException"/> and leave nothing outside the target:
/// the temporary parent holds only "layer", and nothing appears where the hostile entry pointed.
/// </summary>
public sealed class LayerEscapeTests
{
    private static async Task AssertRefusedAsync(TempLayout layout, byte[] tar, string expectedInMessage)
    {
        UnsafeLayerException e = await Assert.ThrowsAsync<UnsafeLayerException>(() => UnpackAsync(tar, layout.Target));
        Assert.Contains(expectedInMessage, e.Message, StringComparison.Ordinal);
        Assert.Equal(["layer"], layout.ParentListing());
    }

    [Fact]
    public async Task Dot_dot_name()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder().File("ok", "fine").File("../escape", "pwned").ToArray();

        await AssertRefusedAsync(layout, tar, "entry '../escape' escapes the layer");
        Assert.False(Exists(Path.Combine(layout.Parent, "escape")));
    }

    [Fact]
    public async Task Absolute_name()
    {
        using var layout = new TempLayout();
        string hostile = Path.Combine(layout.Parent, "abs-escape");
        byte[] tar = new TarBuilder().File(hostile, "pwned").ToArray();

        await AssertRefusedAsync(layout, tar, "is an absolute path");
        Assert.False(Exists(hostile));
    }

    [Fact]
    public async Task Absolute_name_under_etc()
    {
        using var layout = new TempLayout();
        string hostile = $"/etc/berth-layer-test-{Guid.NewGuid():N}";
        byte[] tar = new TarBuilder().File(hostile, "pwned").ToArray();

        await AssertRefusedAsync(layout, tar, $"'{hostile}'");
        Assert.False(Exists(hostile));
    }

    [Fact]
    public async Task Nested_dot_dot_name()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder().Dir("a/").File("a/../../x", "pwned").ToArray();

        await AssertRefusedAsync(layout, tar, "entry 'a/../../x' escapes the layer");
        Assert.False(Exists(Path.Combine(layout.Parent, "x")));
    }

    [Fact]
    public async Task A_directory_or_file_entry_replaces_a_hostile_symlink_instead_of_following_it()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .Symlink("evil-dir", layout.Parent)
            .Dir("evil-dir/", mode: (UnixFileMode)0b111_000_000)
            .Symlink("evil-file", Path.Combine(layout.Parent, "pwned"))
            .File("evil-file", "stays inside")
            .Symlink("evil-node", Path.Combine(layout.Parent, "node"))
            .Fifo("evil-node")
            .ToArray();

        await UnpackAsync(tar, layout.Target);

        Assert.Equal(Interop.FileType.Directory, Stat(layout.InLayer("evil-dir")).Type);
        Assert.Equal("stays inside", File.ReadAllText(layout.InLayer("evil-file")));
        Assert.Equal(Interop.FileType.Fifo, Stat(layout.InLayer("evil-node")).Type);
        Assert.Equal(["layer"], layout.ParentListing());
        Assert.Equal((UnixFileMode)0b111_000_000, Stat(layout.InLayer("evil-dir")).Permissions);
    }

    [Fact]
    public async Task Dot_dot_that_stays_inside_is_fine()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder().Dir("a/").File("a/../b", "inside").ToArray();

        await UnpackAsync(tar, layout.Target);

        Assert.Equal("inside", File.ReadAllText(layout.InLayer("b")));
        Assert.Equal(["layer"], layout.ParentListing());
    }

    [Fact]
    public async Task File_through_a_symlink_to_an_absolute_outside_path()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .Symlink("evil", layout.Parent)
            .File("evil/pwned", "pwned")
            .ToArray();

        await AssertRefusedAsync(layout, tar, "entry 'evil/pwned' escapes the layer");
        Assert.False(Exists(Path.Combine(layout.Parent, "pwned")));
    }

    [Fact]
    public async Task File_through_a_relative_symlink_that_climbs_out()
    {
        using var layout = new TempLayout();
        // From layer/x/y, "../../.." is the temporary parent.
        byte[] tar = new TarBuilder()
            .Dir("x/y/")
            .Symlink("x/y/evil", "../../..")
            .File("x/y/evil/pwned", "pwned")
            .ToArray();

        await AssertRefusedAsync(layout, tar, "entry 'x/y/evil/pwned' escapes the layer");
        Assert.False(Exists(Path.Combine(layout.Parent, "pwned")));
    }

    [Fact]
    public async Task Directory_through_a_symlink_that_climbs_out()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .Symlink("evil", "..")
            .Dir("evil/made-outside/")
            .ToArray();

        await AssertRefusedAsync(layout, tar, "escapes the layer");
        Assert.False(Exists(Path.Combine(layout.Parent, "made-outside")));
    }

    [Fact]
    public async Task Missing_parents_through_a_symlink_that_climbs_out()
    {
        using var layout = new TempLayout();
        // The parent "evil/new/deeper" does not exist: making it must not make "new" outside.
        byte[] tar = new TarBuilder()
            .Symlink("evil", "..")
            .File("evil/new/deeper/pwned", "pwned")
            .ToArray();

        await AssertRefusedAsync(layout, tar, "escapes the layer");
        Assert.False(Exists(Path.Combine(layout.Parent, "new")));
    }

    [Fact]
    public async Task Hard_link_written_through_a_symlink_to_root()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .File("payload", "pwned")
            .Symlink("rootfs", "/")
            .HardLink("rootfs" + Path.Combine(layout.Parent, "pwned"), "payload")
            .ToArray();

        await AssertRefusedAsync(layout, tar, "escapes the layer");
        Assert.False(Exists(Path.Combine(layout.Parent, "pwned")));
        Assert.Equal(1u, Stat(layout.InLayer("payload")).LinkCount);
    }

    [Fact]
    public async Task Hard_link_to_a_host_file_through_a_symlink_to_root()
    {
        using var layout = new TempLayout();
        uint links = Stat("/etc/passwd").LinkCount;
        byte[] tar = new TarBuilder()
            .Symlink("rootfs", "/")
            .HardLink("stolen", "rootfs/etc/passwd")
            .ToArray();

        await AssertRefusedAsync(layout, tar, "escapes the layer");
        Assert.False(Exists(layout.InLayer("stolen")));
        Assert.Equal(links, Stat("/etc/passwd").LinkCount);
    }

    [Fact]
    public async Task Hard_link_to_dot_dot_outside()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder().HardLink("stolen", "../outside").ToArray();

        await AssertRefusedAsync(layout, tar, "hard link target '../outside' of entry 'stolen' escapes the layer");
        Assert.False(Exists(layout.InLayer("stolen")));
    }

    [Fact]
    public async Task Hard_link_to_an_absolute_target()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder().HardLink("stolen", "/etc/passwd").ToArray();

        await AssertRefusedAsync(layout, tar, "is an absolute path");
        Assert.False(Exists(layout.InLayer("stolen")));
    }

    [Fact]
    public async Task Hard_link_to_a_file_outside_through_a_symlinked_directory()
    {
        using var layout = new TempLayout();
        using var victim = new TempLayout();
        string secret = Path.Combine(victim.Target, "secret");
        File.WriteAllText(secret, "not yours");
        byte[] tar = new TarBuilder()
            .Symlink("d", victim.Target)
            .HardLink("stolen", "d/secret")
            .ToArray();

        await AssertRefusedAsync(layout, tar, "escapes the layer");
        Assert.False(Exists(layout.InLayer("stolen")));
        Assert.Equal(1u, Stat(secret).LinkCount);
        Assert.Equal(["secret"], Listing(victim.Target));
    }

    [Fact]
    public async Task Hard_link_to_a_file_outside_through_a_relative_symlinked_directory()
    {
        using var layout = new TempLayout();
        // layer/../victim is a sibling of the layer, made for this test: it must come out untouched.
        string victimDir = Path.Combine(layout.Parent, "victim");
        Directory.CreateDirectory(victimDir);
        string secret = Path.Combine(victimDir, "secret");
        File.WriteAllText(secret, "not yours");
        byte[] tar = new TarBuilder()
            .Symlink("d", "../victim")
            .HardLink("stolen", "d/secret")
            .ToArray();

        UnsafeLayerException e = await Assert.ThrowsAsync<UnsafeLayerException>(() => UnpackAsync(tar, layout.Target));
        Assert.Contains("escapes the layer", e.Message, StringComparison.Ordinal);
        Assert.Equal(["layer", "victim"], layout.ParentListing());
        Assert.Equal(1u, Stat(secret).LinkCount);
        Assert.False(Exists(layout.InLayer("stolen")));
    }

    [Fact]
    public async Task Hard_link_to_a_file_absent_from_the_layer()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder().Dir("usr/").HardLink("stolen", "usr/not-here").ToArray();

        await AssertRefusedAsync(layout, tar, "which is not in this layer");
        Assert.False(Exists(layout.InLayer("stolen")));
    }

    [Fact]
    public async Task Hard_link_target_in_a_missing_directory()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder().HardLink("stolen", "nowhere/file").ToArray();

        await AssertRefusedAsync(layout, tar, "which is not in this layer");
        Assert.False(Exists(layout.InLayer("nowhere")));
    }

    [Fact]
    public async Task Forged_overlayfs_xattr()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .Dir("d/", xattrs: new Dictionary<string, string> { ["trusted.overlay.redirect"] = "/etc" })
            .ToArray();

        await AssertRefusedAsync(layout, tar, "sets the overlayfs xattr 'trusted.overlay.redirect'");
    }

    [Fact]
    public async Task Whiteout_through_a_symlink_that_climbs_out()
    {
        using var layout = new TempLayout();
        byte[] tar = new TarBuilder()
            .Symlink("evil", layout.Parent)
            .File("evil/.wh.layer")
            .File("evil/.wh..wh..opq")
            .ToArray();

        await AssertRefusedAsync(layout, tar, "escapes the layer");
        Assert.Null(Xattr(layout.Parent, "trusted.overlay.opaque"));
    }
}
