using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Berth.Tests.E2e.Fixtures;

public enum LayerCompression
{
    None,
    Gzip,
    Zstd,
}

/// <summary>Metadata of one tar entry; anything left out gets the usual default for its type.</summary>
public sealed record EntryAttributes
{
    /// <summary>Permission bits, with setuid, setgid and sticky; null means 0644 for files, 0755 for directories, 0777 for symlinks.</summary>
    public UnixFileMode? Mode { get; init; }

    public int Uid { get; init; }

    public int Gid { get; init; }

    /// <summary>null means <see cref="LayerBuilder.DefaultModified"/>, so that the same layer always has the same digest.</summary>
    public DateTimeOffset? Modified { get; init; }

    /// <summary>Extended attributes, written as PAX SCHILY.xattr.NAME records (values as UTF-8 text).</summary>
    public IReadOnlyDictionary<string, string>? Xattrs { get; init; }
}

/// <summary>A layer as it goes into a registry: the blob, and the digests that name it before and after compression.</summary>
public sealed record BuiltLayer(byte[] Tar, byte[] Blob, LayerCompression Compression)
{
    /// <summary>The digest of the blob as stored: what a manifest lists.</summary>
    public string Digest { get; } = Digests.Sha256(Blob);

    /// <summary>The digest of the uncompressed tar: what the image config's rootfs.diff_ids lists.</summary>
    public string DiffId { get; } = Digests.Sha256(Tar);
}

/// <summary>
/// The contents of one image layer, entry by entry, written as a PAX tar. Paths given to the
/// ordinary methods are made relative (a leading "/" is dropped); <see cref="Raw"/> writes names
/// and link targets exactly as given, for the hostile archives an unpacker must refuse.
/// </summary>
public sealed class LayerBuilder
{
    /// <summary>The modification time of entries that do not choose one: fixed, so that digests are reproducible.</summary>
    public static readonly DateTimeOffset DefaultModified = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The applets critest and the e2e tests call, each a hard link to bin/busybox as in the busybox image.</summary>
    public static readonly IReadOnlyList<string> BusyboxApplets =
    [
        "sh", "sleep", "echo", "cat", "ls", "true", "false", "env", "id", "touch", "mkdir", "rm", "test",
        "wc", "head", "yes", "dd", "top", "ps", "hostname", "pwd", "grep", "readlink", "httpd", "wget", "ip", "stty",
        "unshare", "mknod", "stat",
    ];

    private const string BusyboxPath = "/bin/busybox";

    private readonly List<Entry> _entries = [];

    /// <summary>How the blob is compressed; the media type in a manifest follows from it.</summary>
    public LayerCompression Compression { get; init; } = LayerCompression.Gzip;

    /// <summary>
    /// A base layer that runs: a static busybox at /bin/busybox with its applets as hard links,
    /// /etc/passwd (root, nobody), /etc/group and a sticky /tmp.
    /// </summary>
    public static LayerBuilder Busybox(LayerCompression compression = LayerCompression.Gzip)
    {
        var layer = new LayerBuilder { Compression = compression }
            .Directory("bin")
            .Directory("etc")
            .Directory("root", new EntryAttributes { Mode = Octal("700") })
            .Directory("tmp", new EntryAttributes { Mode = Octal("1777") })
            .File("bin/busybox", System.IO.File.ReadAllBytes(BusyboxPath), new EntryAttributes { Mode = Octal("755") })
            .File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
            .File("etc/group", "root:x:0:\nnobody:x:65534:\n");
        foreach (var applet in BusyboxApplets)
        {
            // A hard link entry carries its inode's mode: tar extractors (containerd's too) apply it.
            layer.HardLink($"bin/{applet}", "bin/busybox", new EntryAttributes { Mode = Octal("755") });
        }

        return layer;
    }

    /// <summary>A mode written the way people write modes: Octal("4755").</summary>
    public static UnixFileMode Octal(string digits) => (UnixFileMode)Convert.ToInt32(digits, 8);

    public LayerBuilder File(string path, byte[] content, EntryAttributes? attributes = null) =>
        Add(new Entry(TarEntryType.RegularFile, Relative(path), attributes, Content: content));

    public LayerBuilder File(string path, string text, EntryAttributes? attributes = null) =>
        File(path, Encoding.UTF8.GetBytes(text), attributes);

    public LayerBuilder Directory(string path, EntryAttributes? attributes = null) =>
        Add(new Entry(TarEntryType.Directory, Relative(path), attributes));

    /// <summary>A symbolic link; the target is kept as given (absolute targets are legitimate in images).</summary>
    public LayerBuilder Symlink(string path, string target, EntryAttributes? attributes = null) =>
        Add(new Entry(TarEntryType.SymbolicLink, Relative(path), attributes, LinkName: target));

    /// <summary>A hard link to an entry written earlier in this layer or a lower one; both paths are relative to the image root.</summary>
    public LayerBuilder HardLink(string path, string target, EntryAttributes? attributes = null) =>
        Add(new Entry(TarEntryType.HardLink, Relative(path), attributes, LinkName: Relative(target)));

    public LayerBuilder CharacterDevice(string path, int major, int minor, EntryAttributes? attributes = null) =>
        Add(new Entry(TarEntryType.CharacterDevice, Relative(path), attributes, Major: major, Minor: minor));

    public LayerBuilder BlockDevice(string path, int major, int minor, EntryAttributes? attributes = null) =>
        Add(new Entry(TarEntryType.BlockDevice, Relative(path), attributes, Major: major, Minor: minor));

    public LayerBuilder Fifo(string path, EntryAttributes? attributes = null) =>
        Add(new Entry(TarEntryType.Fifo, Relative(path), attributes));

    /// <summary>Deletes <paramref name="path"/> of a lower layer: an empty file named .wh.NAME beside it.</summary>
    public LayerBuilder Whiteout(string path)
    {
        var relative = Relative(path);
        var name = Path.GetFileName(relative);
        return File(Path.Combine(Path.GetDirectoryName(relative) ?? "", ".wh." + name), []);
    }

    /// <summary>Hides everything lower layers put in <paramref name="directory"/>: the marker .wh..wh..opq inside it.</summary>
    public LayerBuilder OpaqueDirectory(string directory) =>
        File(Path.Combine(Relative(directory), ".wh..wh..opq"), []);

    /// <summary>
    /// An entry written verbatim: "../escape", "/abs", a hard link to "../outside", a file under
    /// a symlink written just before. Nothing is checked or normalised.
    /// </summary>
    public LayerBuilder Raw(TarEntryType type, string name, string? linkName = null, byte[]? content = null, EntryAttributes? attributes = null) =>
        Add(new Entry(type, name, attributes, Content: content, LinkName: linkName));

    /// <summary>Writes the tar and compresses it.</summary>
    public BuiltLayer Build()
    {
        var tar = WriteTar();
        return new BuiltLayer(tar, Compress(tar, Compression), Compression);
    }

    private byte[] WriteTar()
    {
        using var output = new MemoryStream();
        using (var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var entry in _entries)
            {
                writer.WriteEntry(entry.ToTarEntry());
            }
        }

        return output.ToArray();
    }

    private static byte[] Compress(byte[] tar, LayerCompression compression) => compression switch
    {
        LayerCompression.None => tar,
        LayerCompression.Gzip => Gzip(tar),
        LayerCompression.Zstd => Zstd(tar),
        _ => throw new ArgumentOutOfRangeException(nameof(compression), compression, null),
    };

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    private static byte[] Zstd(byte[] data)
    {
        using var compressor = new ZstdSharp.Compressor();
        return compressor.Wrap(data).ToArray();
    }

    private LayerBuilder Add(Entry entry)
    {
        _entries.Add(entry);
        return this;
    }

    private static string Relative(string path) => path.TrimStart('/');

    private sealed record Entry(
        TarEntryType Type,
        string Name,
        EntryAttributes? Attributes,
        byte[]? Content = null,
        string? LinkName = null,
        int Major = 0,
        int Minor = 0)
    {
        public PaxTarEntry ToTarEntry()
        {
            var attributes = Attributes ?? new EntryAttributes();
            var xattrs = (attributes.Xattrs ?? new Dictionary<string, string>())
                .Select(x => KeyValuePair.Create("SCHILY.xattr." + x.Key, x.Value));
            var entry = new PaxTarEntry(Type, Name, xattrs)
            {
                Mode = attributes.Mode ?? DefaultMode(Type),
                Uid = attributes.Uid,
                Gid = attributes.Gid,
                ModificationTime = attributes.Modified ?? DefaultModified,
            };
            if (LinkName is not null)
            {
                entry.LinkName = LinkName;
            }

            if (Type is TarEntryType.CharacterDevice or TarEntryType.BlockDevice)
            {
                entry.DeviceMajor = Major;
                entry.DeviceMinor = Minor;
            }

            if (Content is not null)
            {
                entry.DataStream = new MemoryStream(Content, writable: false);
            }

            return entry;
        }

        private static UnixFileMode DefaultMode(TarEntryType type) => type switch
        {
            TarEntryType.Directory => Octal("755"),
            TarEntryType.SymbolicLink => Octal("777"),
            _ => Octal("644"),
        };
    }
}
