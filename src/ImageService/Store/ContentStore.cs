using System.Security.Cryptography;

namespace Berth.ImageService.Store;

/// <summary>
/// Plain files by digest under root/content, and unpacked layer snapshots under root/snapshots.
/// Everything is written beside its final place under a ".tmp" folder and renamed in, so a crash never
/// leaves a half-written file at a final path; the ".tmp" folders are emptied at start-up.
/// </summary>
public sealed class ContentStore
{
    public ContentStore(string root)
    {
        BlobDirectory = Path.Combine(root, "content", "sha256");
        SnapshotDirectory = Path.Combine(root, "snapshots");
        BlobTemp = Path.Combine(root, "content", ".tmp");
        SnapshotTemp = Path.Combine(SnapshotDirectory, ".tmp");
        foreach (var directory in new[] { BlobDirectory, SnapshotDirectory, BlobTemp, SnapshotTemp })
        {
            Directory.CreateDirectory(directory);
        }
    }

    private long _blobGeneration;

    public string BlobDirectory { get; }
    public string SnapshotDirectory { get; }

    /// <summary>Goes up after every blob written or deleted: what was computed from the blobs at a lower one is stale.</summary>
    public long BlobGeneration => Interlocked.Read(ref _blobGeneration);
    private string BlobTemp { get; }
    private string SnapshotTemp { get; }

    /// <summary>Deletes what a killed pull left half done.</summary>
    public void DiscardUnfinished()
    {
        foreach (var directory in new[] { BlobTemp, SnapshotTemp })
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
            {
                DeleteTree(entry);
            }
        }
    }

    public string BlobPath(string digest) => Path.Combine(BlobDirectory, Hex(digest));

    public string SnapshotPath(string diffId) => Path.Combine(SnapshotDirectory, Hex(diffId));

    public bool HasBlob(string digest) => File.Exists(BlobPath(digest));

    public byte[] ReadBlob(string digest) => File.ReadAllBytes(BlobPath(digest));

    public void WriteBlob(string digest, ReadOnlySpan<byte> content)
    {
        var actual = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
        if (actual != digest)
        {
            throw new InvalidDataException($"content of {digest} hashes to {actual}");
        }
        if (HasBlob(digest))
        {
            return;
        }
        var temp = Path.Combine(BlobTemp, Guid.NewGuid().ToString("N"));
        using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
        {
            file.Write(content);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, BlobPath(digest), overwrite: true);
        Interlocked.Increment(ref _blobGeneration);
    }

    /// <summary>A path beside the blobs to write a blob to before <see cref="CommitBlobFile"/>; emptied at start-up.</summary>
    public string NewTemporaryFile() => Path.Combine(BlobTemp, Guid.NewGuid().ToString("N"));

    /// <summary>Moves a fully written and already verified file in as the blob <paramref name="digest"/>.</summary>
    public void CommitBlobFile(string temporaryFile, string digest)
    {
        using (var file = new FileStream(temporaryFile, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Flush(flushToDisk: true);
        }
        File.Move(temporaryFile, BlobPath(digest), overwrite: true);
        Interlocked.Increment(ref _blobGeneration);
    }

    public void DeleteBlob(string digest)
    {
        File.Delete(BlobPath(digest));
        Interlocked.Increment(ref _blobGeneration);
    }

    public IEnumerable<string> Blobs() =>
        Directory.EnumerateFiles(BlobDirectory).Select(path => "sha256:" + Path.GetFileName(path));

    /// <summary>A fresh empty directory for work that must not outlive the operation (or a restart): the caller deletes it.</summary>
    public string NewTemporaryDirectory()
    {
        var path = Path.Combine(BlobTemp, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>A fresh empty directory to unpack a layer into; <see cref="CommitSnapshot"/> moves it in place.</summary>
    public string NewSnapshotWorkspace()
    {
        var path = Path.Combine(SnapshotTemp, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    public void CommitSnapshot(string workspace, string diffId)
    {
        var final = SnapshotPath(diffId);
        if (Directory.Exists(final))
        {
            // Left by a pull killed after the rename but before its database commit: same content by digest.
            DeleteTree(final);
        }
        Directory.Move(workspace, final);
    }

    public IEnumerable<string> SnapshotDiffIds() =>
        Directory.EnumerateDirectories(SnapshotDirectory)
            .Select(Path.GetFileName)
            .Where(name => name is { Length: 64 })
            .Select(name => "sha256:" + name);

    public void DeleteSnapshot(string diffId) => DeleteTree(SnapshotPath(diffId));

    /// <summary>Deletes a file or a directory tree without following symlinks out of it.</summary>
    public static void DeleteTree(string path)
    {
        var info = new FileInfo(path);
        if (info.Exists || info.LinkTarget is not null)
        {
            info.Delete();
        }
        else if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdef");

    private static string Hex(string digest)
    {
        const string prefix = "sha256:";
        if (!digest.StartsWith(prefix, StringComparison.Ordinal) || digest.Length != prefix.Length + 64 ||
            digest.AsSpan(prefix.Length).ContainsAnyExcept(HexDigits))
        {
            throw new ArgumentException($"not a sha256 digest: {digest}", nameof(digest));
        }
        return digest[prefix.Length..];
    }
}
