using System.Formats.Tar;
using Microsoft.Win32.SafeHandles;
using static Berth.Interop;

namespace Berth.ImageService.Layers;

/// <summary>What an archive left out, for the caller to tell the operator.</summary>
/// <param name="Skipped">Paths (relative, no leading slash) of sockets, which a tar cannot carry.</param>
public sealed record ArchiveSummary(long Entries, IReadOnlyList<string> Skipped);

/// <summary>
/// Reads overlayfs directories back into tar archives, the reverse of <see cref="LayerUnpacker"/>:
/// <list type="bullet">
/// <item><see cref="WriteDiffAsync"/>: a container's writable layer (its overlay upper dir) as an OCI layer, as containerd's
/// archive.Diff writes one over an overlay snapshot: a whiteout (a 0/0 character device) becomes an empty ".wh.NAME" file,
/// a directory marked trusted.overlay.opaque=y is followed by ".wh..wh..opq", other device nodes and FIFOs are archived as
/// they are (the rule of every way a layer comes in: the unpacker makes them again, as containerd's and docker's do; the
/// devices cgroup, not the layer, decides what a container may open), and sockets are skipped (a tar cannot hold them);</item>
/// <item><see cref="WriteMergedAsync"/>: the union of a container's layers as the container sees its root (docker export),
/// merged here rather than read through the container's mount namespace: a walk of directories berthd owns needs no
/// process, works for a stopped container and sees no volume mounted over the root, and it cannot be led out of them
/// (see below), where /proc/PID/root resolves absolute symlinks against berthd's own root unless every lookup is
/// confined by hand.</item>
/// </list>
/// Every lookup goes through file descriptors: each directory is opened from its parent's fd with openat2 and
/// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, each file opened O_NOFOLLOW from its directory's fd, so a
/// symlink swapped in by a running container fails the walk (ELOOP) instead of leading it out of the layer. Symlinks are
/// archived as links, never followed. Entries come in name order, each directory before its contents; files with more
/// than one link become hard links to the first path archived.
/// </summary>
public static class LayerArchiver
{
    /// <summary>Writes the layer diff of <paramref name="upperDir"/> (an overlay upper dir) as an uncompressed tar.</summary>
    /// <exception cref="IOException">A file could not be read, or changed kind while it was read (ELOOP from a swapped symlink).</exception>
    public static Task<ArchiveSummary> WriteDiffAsync(string upperDir, Stream output, CancellationToken ct) =>
        new Walker(diff: true).RunAsync([upperDir], output, ct);

    /// <summary>Writes the merged view of <paramref name="layers"/> (topmost first: the upper dir, then the lower dirs) as an uncompressed tar.</summary>
    /// <exception cref="IOException">A file could not be read, or changed kind while it was read.</exception>
    public static Task<ArchiveSummary> WriteMergedAsync(IReadOnlyList<string> layers, Stream output, CancellationToken ct) =>
        new Walker(diff: false).RunAsync(layers, output, ct);

    private sealed class Walker(bool diff)
    {
        private const string OverlayOpaqueXattr = "trusted.overlay.opaque";
        private const int EndOfArchiveBytes = 2 * 512;
        private const ResolveFlags Confined = ResolveFlags.Beneath | ResolveFlags.NoSymlinks | ResolveFlags.NoMagicLinks;
        private const OpenFlags DirectoryRead = OpenFlags.ReadOnly | OpenFlags.Directory | OpenFlags.NoFollow | OpenFlags.CloseOnExec;
        private const OpenFlags FileRead = OpenFlags.ReadOnly | OpenFlags.NoFollow | OpenFlags.CloseOnExec;

        private readonly Dictionary<(ulong Device, ulong Inode), string> _linked = [];
        private readonly List<string> _skipped = [];
        private long _entries;
        private TarWriter? _tar;

        public async Task<ArchiveSummary> RunAsync(IReadOnlyList<string> layers, Stream output, CancellationToken ct)
        {
            var roots = new List<(SafeFileHandle, bool)>();
            try
            {
                foreach (var layer in layers)
                {
                    // A layer's root is never opaque: nothing of the layers below is hidden by the root itself.
                    roots.Add((Sys.Open(layer, DirectoryRead), false));
                }
                _tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
                await using (_tar)
                {
                    await WalkAsync("", roots, ct);
                }
                if (_entries == 0)
                {
                    // TarWriter ends an archive only after an entry: an empty one is still a tar, its two zero blocks (the
                    // empty layer docker commit makes of a container that changed nothing, diff ID sha256:5f70bf18...).
                    await output.WriteAsync(new byte[EndOfArchiveBytes], ct);
                }
                return new ArchiveSummary(_entries, _skipped);
            }
            catch (ErrnoException e)
            {
                throw new IOException($"reading the container's files: {e.Message}", e);
            }
            finally
            {
                foreach (var (root, _) in roots)
                {
                    root.Dispose();
                }
            }
        }

        /// <summary>
        /// Archives the contents of the directory <paramref name="relative"/> ("" or "a/b/"), which each of
        /// <paramref name="directories"/> (topmost first, open) holds: the topmost layer naming an entry wins, a whiteout
        /// hides the name below it, and an opaque directory hides everything below it.
        /// </summary>
        private async Task WalkAsync(string relative, IReadOnlyList<(SafeFileHandle Handle, bool Opaque)> directories, CancellationToken ct)
        {
            var entries = new SortedDictionary<string, (int Layer, FileStatus Status)>(StringComparer.Ordinal);
            var hidden = new HashSet<string>(StringComparer.Ordinal);
            for (var layer = 0; layer < directories.Count; layer++)
            {
                var (directory, opaque) = directories[layer];
                foreach (var name in Sys.ReadDirectoryNames(directory, relative))
                {
                    if (entries.ContainsKey(name) || hidden.Contains(name) || Sys.TryLStatAt(directory, name) is not { } status)
                    {
                        continue;
                    }
                    if (!diff && IsWhiteout(status))
                    {
                        hidden.Add(name);
                        continue;
                    }
                    entries[name] = (layer, status);
                }
                if (!diff && opaque)
                {
                    break;
                }
            }
            foreach (var (name, (layer, status)) in entries)
            {
                ct.ThrowIfCancellationRequested();
                await WriteAsync(relative, name, directories, layer, status, ct);
            }
        }

        private async Task WriteAsync(string relative, string name, IReadOnlyList<(SafeFileHandle Handle, bool Opaque)> directories, int layer,
            FileStatus status, CancellationToken ct)
        {
            var parent = directories[layer].Handle;
            var path = relative + name;
            switch (status.Type)
            {
                case FileType.Directory:
                    await AddAsync(Entry(TarEntryType.Directory, path + "/", status), ct);
                    var below = new List<(SafeFileHandle Handle, bool Opaque)>();
                    try
                    {
                        below.Add((Sys.OpenAt2(parent, name, DirectoryRead, Confined), IsOpaque(parent, name)));
                        if (diff && below[0].Opaque)
                        {
                            await AddAsync(Entry(TarEntryType.RegularFile, path + "/.wh..wh..opq", status with { Mode = (uint)FileType.RegularFile }), ct);
                        }
                        for (var lower = layer + 1; !diff && lower < directories.Count; lower++)
                        {
                            // The directory continues in a lower layer only while no layer between puts something else there.
                            var under = Sys.TryLStatAt(directories[lower].Handle, name);
                            if (under is null)
                            {
                                continue;
                            }
                            if (under.Value.Type != FileType.Directory)
                            {
                                break;
                            }
                            below.Add((Sys.OpenAt2(directories[lower].Handle, name, DirectoryRead, Confined), IsOpaque(directories[lower].Handle, name)));
                        }
                        await WalkAsync(path + "/", below, ct);
                    }
                    finally
                    {
                        foreach (var (directory, _) in below)
                        {
                            directory.Dispose();
                        }
                    }
                    break;
                case FileType.RegularFile:
                    if (status.LinkCount > 1 && _linked.TryGetValue((status.Device, status.Inode), out var first))
                    {
                        var link = Entry(TarEntryType.HardLink, path, status);
                        link.LinkName = first;
                        await AddAsync(link, ct);
                        break;
                    }
                    if (status.LinkCount > 1)
                    {
                        _linked[(status.Device, status.Inode)] = path;
                    }
                    using (var handle = Sys.OpenAt2(parent, name, FileRead, Confined))
                    await using (var data = new FileStream(handle, FileAccess.Read, bufferSize: 0))
                    {
                        var file = Entry(TarEntryType.RegularFile, path, status);
                        file.DataStream = data;
                        await AddAsync(file, ct);
                    }
                    break;
                case FileType.SymbolicLink:
                    var symlink = Entry(TarEntryType.SymbolicLink, path, status);
                    symlink.LinkName = ReadLink(parent, name) ?? throw new IOException($"'{path}' stopped being a symbolic link while it was read");
                    await AddAsync(symlink, ct);
                    break;
                case FileType.CharacterDevice when diff && IsWhiteout(status):
                    await AddAsync(Entry(TarEntryType.RegularFile, relative + ".wh." + name, status with { Mode = (uint)FileType.RegularFile }), ct);
                    break;
                case FileType.Fifo:
                    await AddAsync(Entry(TarEntryType.Fifo, path, status), ct);
                    break;
                case FileType.CharacterDevice or FileType.BlockDevice:
                    var device = Entry(status.Type == FileType.CharacterDevice ? TarEntryType.CharacterDevice : TarEntryType.BlockDevice, path, status);
                    device.DeviceMajor = (int)status.RDeviceMajor;
                    device.DeviceMinor = (int)status.RDeviceMinor;
                    await AddAsync(device, ct);
                    break;
                default:
                    _skipped.Add(path);
                    break;
            }
        }

        private async Task AddAsync(PaxTarEntry entry, CancellationToken ct)
        {
            await _tar!.WriteEntryAsync(entry, ct);
            _entries++;
        }

        private static PaxTarEntry Entry(TarEntryType type, string path, FileStatus status) => new(type, path)
        {
            Mode = status.Permissions,
            Uid = (int)status.Uid,
            Gid = (int)status.Gid,
            ModificationTime = status.ModificationTime,
        };

        /// <summary>An overlayfs whiteout: a character device 0/0.</summary>
        private static bool IsWhiteout(FileStatus status) =>
            status.Type == FileType.CharacterDevice && status.RDeviceMajor == 0 && status.RDeviceMinor == 0;

        /// <summary>Whether the directory <paramref name="name"/> in <paramref name="directory"/> carries trusted.overlay.opaque=y.</summary>
        private static bool IsOpaque(SafeFileHandle directory, string name)
        {
            try
            {
                return Sys.LGetXattr(ProcPath(directory, name), OverlayOpaqueXattr) is [(byte)'y'];
            }
            catch (ErrnoException e) when (e.Error == Errno.EOPNOTSUPP)
            {
                return false; // a file system without trusted xattrs holds no overlay upper dir
            }
        }

        private static string? ReadLink(SafeFileHandle directory, string name) => Sys.TryReadLink(ProcPath(directory, name));

        /// <summary>
        /// The path of <paramref name="name"/> in an open directory through its /proc/self/fd link, for the calls Linux has
        /// no *at form of (lgetxattr, readlink): the kernel resolves the link to the very directory the fd holds.
        /// </summary>
        private static string ProcPath(SafeFileHandle directory, string name) => $"/proc/self/fd/{directory.DangerousGetHandle()}/{name}";
    }
}
