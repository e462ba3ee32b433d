using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using Berth.ImageService;
using Berth.ImageService.Layers;

namespace Berth.Tests.Unit.Layers;

/// <summary>
/// A temporary parent directory holding only the (empty) layer target, so a test can tell that an entry
/// escaped: anything but "layer" in the parent is a write outside the target. Deleted on dispose.
/// </summary>
internal sealed class TempLayout : IDisposable
{
    public TempLayout()
    {
        Parent = Directory.CreateTempSubdirectory("berth-layer-test-").FullName;
        Target = Path.Combine(Parent, "layer");
        Directory.CreateDirectory(Target);
    }

    public string Parent { get; }

    public string Target { get; }

    public string InLayer(string relative) => Path.Combine(Target, relative);

    /// <summary>The names the parent holds: exactly ["layer"] unless something escaped.</summary>
    public string[] ParentListing() => LayerKit.Listing(Parent);

    public void Dispose()
    {
        if (Directory.Exists(Parent))
        {
            Directory.Delete(Parent, recursive: true);
        }
    }
}

/// <summary>Builds a tar stream in memory with System.Formats.Tar's writer.</summary>
internal sealed class TarBuilder
{
    public static readonly DateTimeOffset DefaultTime = new(2021, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly MemoryStream _stream = new();
    private readonly TarWriter _writer;
    private readonly TarEntryFormat _format;

    public TarBuilder(TarEntryFormat format = TarEntryFormat.Pax)
    {
        _format = format;
        _writer = new TarWriter(_stream, format, leaveOpen: true);
    }

    public TarBuilder Dir(string name, UnixFileMode mode = (UnixFileMode)0b111_101_101, int uid = 0, int gid = 0,
        DateTimeOffset? mtime = null, IReadOnlyDictionary<string, string>? xattrs = null) =>
        Add(TarEntryType.Directory, name, e => Meta(e, mode, uid, gid, mtime), xattrs);

    public TarBuilder File(string name, string content = "", UnixFileMode mode = (UnixFileMode)0b110_100_100, int uid = 0,
        int gid = 0, DateTimeOffset? mtime = null, IReadOnlyDictionary<string, string>? xattrs = null) =>
        Add(TarEntryType.RegularFile, name, e =>
        {
            Meta(e, mode, uid, gid, mtime);
            e.DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content));
        }, xattrs);

    public TarBuilder Symlink(string name, string target, int uid = 0, int gid = 0,
        IReadOnlyDictionary<string, string>? xattrs = null) =>
        Add(TarEntryType.SymbolicLink, name, e =>
        {
            Meta(e, (UnixFileMode)0b111_111_111, uid, gid, null);
            e.LinkName = target;
        }, xattrs);

    public TarBuilder HardLink(string name, string target) =>
        Add(TarEntryType.HardLink, name, e =>
        {
            Meta(e, (UnixFileMode)0b110_100_100, 0, 0, null);
            e.LinkName = target;
        }, null);

    public TarBuilder Device(string name, TarEntryType type, int major, int minor, UnixFileMode mode = (UnixFileMode)0b110_110_110) =>
        Add(type, name, e =>
        {
            Meta(e, mode, 0, 0, null);
            var posix = (PosixTarEntry)e;
            posix.DeviceMajor = major;
            posix.DeviceMinor = minor;
        }, null);

    public TarBuilder Fifo(string name, UnixFileMode mode = (UnixFileMode)0b110_100_100) =>
        Add(TarEntryType.Fifo, name, e => Meta(e, mode, 0, 0, null), null);

    /// <summary>Closes the archive (two zero blocks) and returns its bytes.</summary>
    public byte[] ToArray()
    {
        _writer.Dispose();
        return _stream.ToArray();
    }

    private TarBuilder Add(TarEntryType type, string name, Action<TarEntry> fill, IReadOnlyDictionary<string, string>? xattrs)
    {
        TarEntry entry = _format switch
        {
            TarEntryFormat.Pax when xattrs is not null => new PaxTarEntry(type, name,
                xattrs.ToDictionary(kv => "SCHILY.xattr." + kv.Key, kv => kv.Value)),
            TarEntryFormat.Pax => new PaxTarEntry(type, name),
            TarEntryFormat.Gnu when xattrs is null => new GnuTarEntry(type, name),
            TarEntryFormat.Ustar when xattrs is null => new UstarTarEntry(type, name),
            _ => throw new ArgumentException("xattrs need the PAX format"),
        };
        fill(entry);
        _writer.WriteEntry(entry);
        return this;
    }

    private static void Meta(TarEntry entry, UnixFileMode mode, int uid, int gid, DateTimeOffset? mtime)
    {
        entry.Mode = mode;
        entry.Uid = uid;
        entry.Gid = gid;
        entry.ModificationTime = mtime ?? DefaultTime;
    }
}

internal static class LayerKit
{
    public const string TarMediaType = "application/vnd.oci.image.layer.v1.tar";
    public const string GzipMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string ZstdMediaType = "application/vnd.oci.image.layer.v1.tar+zstd";

    public static byte[] Gzip(byte[] tar)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(tar);
        }
        return output.ToArray();
    }

    public static byte[] Zstd(byte[] tar)
    {
        using var compressor = new ZstdSharp.Compressor(3);
        // With the content checksum the zstd tool writes by default, so a corrupt frame is detected.
        compressor.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_checksumFlag, 1);
        return compressor.Wrap(tar).ToArray();
    }

    public static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Unpacks through a stream that cannot seek, as a registry download or a content-store read would be.</summary>
    public static Task<UnpackResult> UnpackAsync(byte[] blob, string target, string mediaType = TarMediaType,
        CancellationToken cancellationToken = default) =>
        LayerUnpacker.UnpackAsync(new ForwardOnlyStream(blob), mediaType, target, cancellationToken);

    /// <summary>Overwrites the one occurrence of an ASCII placeholder in an archive with bytes of the same length.</summary>
    public static byte[] Patch(byte[] archive, string placeholder, byte[] replacement)
    {
        byte[] marker = System.Text.Encoding.ASCII.GetBytes(placeholder);
        Assert.Equal(marker.Length, replacement.Length);
        int at = archive.AsSpan().IndexOf(marker);
        Assert.True(at >= 0 && archive.AsSpan(at + 1).IndexOf(marker) < 0, $"'{placeholder}' must occur once");
        replacement.CopyTo(archive.AsSpan(at));
        return archive;
    }

    /// <summary>The names in a directory, sorted.</summary>
    public static string[] Listing(string directory) =>
        Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();

    public static Interop.FileStatus Stat(string path) => Interop.Sys.LStat(path);

    public static bool Exists(string path) => Interop.Sys.TryLStatAt(Interop.Sys.AtFdCwd, path) is not null;

    public static string? Xattr(string path, string name) =>
        Interop.Sys.LGetXattr(path, name) is byte[] value ? System.Text.Encoding.UTF8.GetString(value) : null;

    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes, writable: false);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7000));
        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
