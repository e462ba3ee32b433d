using System.Buffers;
using System.Formats.Tar;
using System.Globalization;
using Microsoft.Win32.SafeHandles;
using static Berth.Interop;

namespace Berth.ImageService.Layers;

/// <summary>
/// Writes tar entries into a snapshot directory through file descriptors only, so the kernel, not string checks,
/// keeps every write inside it:
/// <list type="bullet">
/// <item>the directory is held by an O_PATH fd; an entry's parent is opened from it with openat2 and
/// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, so a ".." or a symlink (absolute, or relative and climbing) that would
/// leave it fails with EXDEV, and a magic link with ELOOP: both become <see cref="UnsafeLayerException"/>;</item>
/// <item>the entry's own name is then made in that parent fd by a call that never follows it
/// (O_CREAT|O_EXCL|O_NOFOLLOW, mkdirat, symlinkat, mknodat, linkat without AT_SYMLINK_FOLLOW), and its metadata is set
/// through the new file's fd or with AT_SYMLINK_NOFOLLOW.</item>
/// </list>
/// Symlink entries themselves may point anywhere: they are only resolved inside the container, at run time.
/// What is left on failure is a partial layer: the caller deletes the directory.
/// </summary>
internal sealed class LayerWriter : IDisposable
{
    private const string WhiteoutPrefix = ".wh.";
    private const string WhiteoutMetaPrefix = ".wh..wh.";
    private const string OpaqueWhiteout = ".wh..wh..opq";
    private const string OverlayOpaqueXattr = "trusted.overlay.opaque";

    private const ResolveFlags StayBeneath = ResolveFlags.Beneath | ResolveFlags.NoMagicLinks;
    private const OpenFlags DirectoryPath = OpenFlags.Path | OpenFlags.Directory | OpenFlags.CloseOnExec;
    private const OpenFlags DirectoryRead = OpenFlags.ReadOnly | OpenFlags.Directory | OpenFlags.CloseOnExec;
    private const UnixFileMode ImplicitDirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const int CopyBufferSize = 128 * 1024;

    private readonly SafeFileHandle _root;

    // Directory times are set last: writing a child changes its directory's mtime (as containerd does).
    private readonly Dictionary<string, (DateTimeOffset Access, DateTimeOffset Modification)> _directoryTimes =
        new(StringComparer.Ordinal);

    // The parent of the last entry, as tars list a directory's children together. Only ever the current entry's
    // parent, and forgotten whenever something is removed (a path that ran through it would now resolve elsewhere);
    // the handle itself lives until the next lookup replaces it, so the entry being written keeps a valid fd.
    private string? _cachedParentPath;
    private SafeFileHandle? _cachedParent;

    public LayerWriter(string targetDirectory)
    {
        _root = Sys.Open(targetDirectory, DirectoryPath);
    }

    /// <summary>Applies one entry. Entries come in archive order; later ones replace earlier non-directories.</summary>
    /// <param name="entry">The entry as System.Formats.Tar read it.</param>
    /// <param name="xattrs">Its xattrs, with their exact bytes (<see cref="TarXattrTap.ResolveXattrs"/>).</param>
    /// <param name="readData">Reads the entry's data, turning a decoding failure into <see cref="InvalidLayerException"/>.</param>
    /// <param name="cancellationToken">Checked while the data is copied.</param>
    public async Task ApplyAsync(
        TarEntry entry,
        IReadOnlyList<KeyValuePair<string, byte[]>> xattrs,
        Func<Stream, Memory<byte>, CancellationToken, ValueTask<int>> readData,
        CancellationToken cancellationToken)
    {
        if (entry.EntryType == TarEntryType.GlobalExtendedAttributes)
        {
            return; // archive-wide PAX defaults carry nothing a filesystem diff needs
        }

        string name = entry.Name;
        LayerPath path = LayerPath.Parse(name, name);
        if (path.IsRoot)
        {
            return; // "./": the snapshot directory is the snapshotter's, as in containerd, which skips it too
        }

        try
        {
            if (path.Name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
            {
                ApplyWhiteout(entry, path);
                return;
            }

            switch (entry.EntryType)
            {
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    RejectSparse(entry);
                    await WriteFileAsync(entry, xattrs, path, readData, cancellationToken).ConfigureAwait(false);
                    break;
                case TarEntryType.Directory:
                    MakeDirectory(entry, xattrs, path);
                    break;
                case TarEntryType.SymbolicLink:
                    MakeSymlink(entry, xattrs, path);
                    break;
                case TarEntryType.HardLink:
                    MakeHardLink(entry, path);
                    break;
                case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                    MakeNode(entry, xattrs, path);
                    break;
                default:
                    throw new InvalidLayerException($"entry '{name}' has type {entry.EntryType}, which a layer cannot hold");
            }
        }
        catch (ErrnoException e) when (e.Error == Errno.ENAMETOOLONG)
        {
            throw new InvalidLayerException($"entry '{name}' has a name too long for the filesystem", e);
        }
        catch (ErrnoException e)
        {
            throw new IOException($"applying layer entry '{name}': {e.Message}", e);
        }
    }

    /// <summary>Sets the times of the directory entries, once nothing more is written into them.</summary>
    public void ApplyDirectoryTimes()
    {
        foreach ((string directory, (DateTimeOffset access, DateTimeOffset modification)) in _directoryTimes)
        {
            LayerPath path = LayerPath.Parse(directory, directory);
            SafeFileHandle? owned = null;
            try
            {
                SafeFileHandle parent = path.Parent.Length == 0
                    ? _root
                    : owned = Sys.OpenAt2(_root, path.Parent, DirectoryPath, StayBeneath);
                if (Sys.TryLStatAt(parent, path.Name) is { Type: FileType.Directory })
                {
                    Sys.LUtimensAt(parent, path.Name, access, modification);
                }
            }
            catch (ErrnoException e) when (e.Error is Errno.ENOENT or Errno.ENOTDIR or Errno.EXDEV or Errno.ELOOP)
            {
                // A later entry of this layer replaced the directory or one above it: nothing left to stamp.
            }
            catch (ErrnoException e)
            {
                throw new IOException($"setting the times of layer directory '{directory}': {e.Message}", e);
            }
            finally
            {
                owned?.Dispose();
            }
        }
    }

    public void Dispose()
    {
        _cachedParent?.Dispose();
        _root.Dispose();
    }

    private async Task WriteFileAsync(
        TarEntry entry, IReadOnlyList<KeyValuePair<string, byte[]>> xattrs, LayerPath path, Func<Stream, Memory<byte>, CancellationToken, ValueTask<int>> readData, CancellationToken cancellationToken)
    {
        SafeFileHandle parent = ResolveParent(path, entry.Name);
        using SafeFileHandle file = CreateReplacing(parent, path.Name, () => Sys.OpenAt(
            parent, path.Name,
            OpenFlags.WriteOnly | OpenFlags.Create | OpenFlags.Exclusive | OpenFlags.NoFollow | OpenFlags.CloseOnExec,
            UnixFileMode.UserRead | UnixFileMode.UserWrite));

        if (entry.DataStream is Stream data)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
            try
            {
                long offset = 0;
                while (true)
                {
                    int n = await readData(data, buffer, cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }
                    RandomAccess.Write(file, buffer.AsSpan(0, n), offset);
                    offset += n;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        SetOwnerXattrsMode(file, entry, xattrs, path);
        (DateTimeOffset access, DateTimeOffset modification) = Times(entry);
        Sys.FUtimens(file, access, modification, path.FullPath);
    }

    private void MakeDirectory(TarEntry entry, IReadOnlyList<KeyValuePair<string, byte[]>> xattrs, LayerPath path)
    {
        SafeFileHandle parent = ResolveParent(path, entry.Name);
        try
        {
            Sys.MkdirAt(parent, path.Name, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (ErrnoException e) when (e.Error == Errno.EEXIST)
        {
            // An existing directory stays, children and all, and takes this entry's metadata; anything else goes.
            if (Sys.LStatAt(parent, path.Name).Type != FileType.Directory)
            {
                RemoveTree(parent, path.Name);
                Sys.MkdirAt(parent, path.Name, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        using SafeFileHandle directory = Sys.OpenAt(parent, path.Name, DirectoryRead | OpenFlags.NoFollow);
        SetOwnerXattrsMode(directory, entry, xattrs, path);
        _directoryTimes[path.FullPath] = Times(entry);
    }

    private void MakeSymlink(TarEntry entry, IReadOnlyList<KeyValuePair<string, byte[]>> xattrs, LayerPath path)
    {
        string target = entry.LinkName;
        if (target.Length == 0)
        {
            throw new InvalidLayerException($"symlink entry '{entry.Name}' has no target");
        }

        SafeFileHandle parent = ResolveParent(path, entry.Name);
        CreateReplacing(parent, path.Name, () =>
        {
            Sys.SymlinkAt(target, parent, path.Name);
            return true;
        });
        Sys.LChownAt(parent, path.Name, (uint)entry.Uid, (uint)entry.Gid);
        SetXattrs(entry.Name, xattrs, (name, value) => Sys.LSetXattrAt(parent, path.Name, name, value));
        (DateTimeOffset access, DateTimeOffset modification) = Times(entry);
        Sys.LUtimensAt(parent, path.Name, access, modification);
    }

    /// <summary>
    /// A hard link must name a file this layer already wrote: the target is looked up from the root under the
    /// same RESOLVE_BENEATH rule, and linkat without AT_SYMLINK_FOLLOW links a final symlink itself, never what it
    /// points to. The link takes no metadata of its own: it is the same inode as its target, which has it already.
    /// </summary>
    private void MakeHardLink(TarEntry entry, LayerPath path)
    {
        if (entry.LinkName.Length == 0)
        {
            throw new InvalidLayerException($"hard link entry '{entry.Name}' has no target");
        }
        LayerPath target = LayerPath.Parse(entry.LinkName, entry.Name, "hard link target");
        if (target.IsRoot)
        {
            throw new InvalidLayerException($"hard link '{entry.Name}' points at the layer root");
        }
        if (target.FullPath == path.FullPath)
        {
            return; // a link to itself adds nothing
        }

        SafeFileHandle parent = ResolveParent(path, entry.Name);
        SafeFileHandle? owned = null;
        try
        {
            SafeFileHandle targetParent;
            if (target.Parent.Length == 0)
            {
                targetParent = _root;
            }
            else if (target.Parent == path.Parent)
            {
                targetParent = parent;
            }
            else
            {
                owned = OpenDirectory(target.Parent, entry.Name, create: false, DirectoryPath);
                targetParent = owned;
            }

            CreateReplacing(parent, path.Name, () =>
            {
                Sys.LinkAt(targetParent, target.Name, parent, path.Name);
                return true;
            });
        }
        catch (ErrnoException e) when (e.Error is Errno.ENOENT or Errno.ENOTDIR)
        {
            throw new UnsafeLayerException(
                $"hard link '{entry.Name}' points at '{entry.LinkName}', which is not in this layer", e);
        }
        catch (ErrnoException e) when (e.Error == Errno.EPERM)
        {
            throw new InvalidLayerException($"hard link '{entry.Name}' points at '{entry.LinkName}', which is a directory", e);
        }
        finally
        {
            owned?.Dispose();
        }
    }

    private void MakeNode(TarEntry entry, IReadOnlyList<KeyValuePair<string, byte[]>> xattrs, LayerPath path)
    {
        FileType type = entry.EntryType switch
        {
            TarEntryType.CharacterDevice => FileType.CharacterDevice,
            TarEntryType.BlockDevice => FileType.BlockDevice,
            _ => FileType.Fifo,
        };
        (uint major, uint minor) = entry is PosixTarEntry posix && type != FileType.Fifo
            ? ((uint)posix.DeviceMajor, (uint)posix.DeviceMinor)
            : (0u, 0u);

        SafeFileHandle parent = ResolveParent(path, entry.Name);
        CreateReplacing(parent, path.Name, () =>
        {
            Sys.MknodAt(parent, path.Name, type, 0, major, minor);
            return true;
        });
        Sys.LChownAt(parent, path.Name, (uint)entry.Uid, (uint)entry.Gid);
        SetXattrs(entry.Name, xattrs, (name, value) => Sys.LSetXattrAt(parent, path.Name, name, value));
        // The name was made by mknodat just above, in a directory nothing else writes to: it is no symlink to follow.
        Sys.FChmodAt(parent, path.Name, entry.Mode);
        (DateTimeOffset access, DateTimeOffset modification) = Times(entry);
        Sys.LUtimensAt(parent, path.Name, access, modification);
    }

    /// <summary>
    /// OCI whiteouts in overlayfs form: ".wh.NAME" becomes a 0/0 character device NAME, ".wh..wh..opq" the
    /// trusted.overlay.opaque="y" xattr on its directory. Other ".wh..wh." names are aufs bookkeeping
    /// (.wh..wh.plnk, .wh..wh.aufs) with no overlayfs meaning, and are skipped.
    /// </summary>
    private void ApplyWhiteout(TarEntry entry, LayerPath path)
    {
        if (path.Name == OpaqueWhiteout)
        {
            using SafeFileHandle directory = path.Parent.Length == 0
                ? Sys.OpenAt2(_root, ".", DirectoryRead, StayBeneath)
                : OpenDirectory(path.Parent, entry.Name, create: true, DirectoryRead);
            Sys.FSetXattr(directory, OverlayOpaqueXattr, "y"u8, path.Parent.Length == 0 ? "." : path.Parent);
            return;
        }
        if (path.Name.StartsWith(WhiteoutMetaPrefix, StringComparison.Ordinal))
        {
            return;
        }

        string hidden = path.Name[WhiteoutPrefix.Length..];
        if (hidden is "." or "..")
        {
            throw new InvalidLayerException($"whiteout entry '{entry.Name}' names '{hidden}'");
        }

        SafeFileHandle parent = ResolveParent(path, entry.Name);
        try
        {
            Sys.MknodAt(parent, hidden, FileType.CharacterDevice, 0, 0, 0);
        }
        catch (ErrnoException e) when (e.Error == Errno.EEXIST)
        {
            // The image spec: a whiteout hides only what lower layers hold; a file of this same layer stays.
        }
    }

    /// <summary>Runs <paramref name="create"/>; if the name is taken, removes what is there (a whole tree for a directory) and runs it again.</summary>
    private T CreateReplacing<T>(SafeFileHandle parent, string name, Func<T> create)
    {
        try
        {
            return create();
        }
        catch (ErrnoException e) when (e.Error == Errno.EEXIST)
        {
            RemoveTree(parent, name);
            return create();
        }
    }

    /// <summary>Removes <paramref name="name"/> from <paramref name="parent"/>, recursing by fd into a directory and never following a symlink.</summary>
    private void RemoveTree(SafeFileHandle parent, string name)
    {
        _cachedParentPath = null;
        try
        {
            Sys.UnlinkAt(parent, name);
            return;
        }
        catch (ErrnoException e) when (e.Error == Errno.ENOENT)
        {
            return;
        }
        catch (ErrnoException e) when (e.Error == Errno.EISDIR)
        {
        }

        using (SafeFileHandle directory = Sys.OpenAt(parent, name, DirectoryRead | OpenFlags.NoFollow))
        {
            foreach (string child in Sys.ReadDirectoryNames(directory, name))
            {
                RemoveTree(directory, child);
            }
        }
        Sys.RmdirAt(parent, name);
    }

    /// <summary>The O_PATH fd of the entry's parent directory, made (0755) where missing. Owned by the cache: do not dispose.</summary>
    private SafeFileHandle ResolveParent(LayerPath path, string entry)
    {
        if (path.Parent.Length == 0)
        {
            return _root;
        }
        if (_cachedParent is not null && string.Equals(_cachedParentPath, path.Parent, StringComparison.Ordinal))
        {
            return _cachedParent;
        }

        SafeFileHandle handle = OpenDirectory(path.Parent, entry, create: true, DirectoryPath);
        _cachedParent?.Dispose();
        _cachedParent = handle;
        _cachedParentPath = path.Parent;
        return handle;
    }

    /// <summary>
    /// Opens <paramref name="relativePath"/> under the root with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS. With
    /// <paramref name="create"/>, missing directories are made 0755 one by one, each in the fd of the one above.
    /// ENOENT without <paramref name="create"/> reaches the caller as it is.
    /// </summary>
    private SafeFileHandle OpenDirectory(string relativePath, string entry, bool create, OpenFlags flags)
    {
        try
        {
            try
            {
                return Sys.OpenAt2(_root, relativePath, flags, StayBeneath);
            }
            catch (ErrnoException e) when (e.Error == Errno.ENOENT && create)
            {
                return CreateDirectories(relativePath, entry, flags);
            }
        }
        catch (ErrnoException e) when (e.Error == Errno.EXDEV)
        {
            throw new UnsafeLayerException(
                $"entry '{entry}' escapes the layer: '{relativePath}' leads outside it through a symlink or '..'", e);
        }
        catch (ErrnoException e) when (e.Error == Errno.ELOOP)
        {
            throw new UnsafeLayerException(
                $"entry '{entry}' is refused: '{relativePath}' runs through a symlink loop or a /proc magic link", e);
        }
        catch (ErrnoException e) when (e.Error == Errno.ENOTDIR)
        {
            throw new InvalidLayerException($"entry '{entry}' is refused: a component of '{relativePath}' is not a directory", e);
        }
    }

    private SafeFileHandle CreateDirectories(string relativePath, string entry, OpenFlags flags)
    {
        string[] components = relativePath.Split('/');
        SafeFileHandle? current = null;
        try
        {
            for (int i = 0; i < components.Length; i++)
            {
                string prefix = string.Join('/', components, 0, i + 1);
                OpenFlags open = i == components.Length - 1 ? flags : DirectoryPath;
                SafeFileHandle next;
                try
                {
                    next = Sys.OpenAt2(_root, prefix, open, StayBeneath);
                }
                catch (ErrnoException e) when (e.Error == Errno.ENOENT)
                {
                    SafeFileHandle at = current ?? _root;
                    try
                    {
                        Sys.MkdirAt(at, components[i], ImplicitDirectoryMode);
                    }
                    catch (ErrnoException exists) when (exists.Error == Errno.EEXIST)
                    {
                        throw new InvalidLayerException(
                            $"entry '{entry}' is refused: '{prefix}' is a symlink to nothing, where a directory is needed", exists);
                    }
                    // Just made by mkdirat, so no symlink; the mode again because mkdirat's is masked by the umask.
                    Sys.FChmodAt(at, components[i], ImplicitDirectoryMode);
                    next = Sys.OpenAt2(_root, prefix, open, StayBeneath);
                }
                current?.Dispose();
                current = next;
            }
            return current!;
        }
        catch
        {
            current?.Dispose();
            throw;
        }
    }

    /// <summary>Owner first (chown clears setuid/setgid and security.capability), then xattrs, then the full mode.</summary>
    private static void SetOwnerXattrsMode(SafeFileHandle fd, TarEntry entry, IReadOnlyList<KeyValuePair<string, byte[]>> xattrs, LayerPath path)
    {
        Sys.FChown(fd, (uint)entry.Uid, (uint)entry.Gid, path.FullPath);
        SetXattrs(entry.Name, xattrs, (name, value) => Sys.FSetXattr(fd, name, value, path.FullPath));
        Sys.FChmod(fd, entry.Mode, path.FullPath);
    }

    /// <summary>Applies the entry's PAX "SCHILY.xattr.NAME" records (the form Go's archive/tar, and so Docker and BuildKit, write).</summary>
    private static void SetXattrs(string entry, IReadOnlyList<KeyValuePair<string, byte[]>> xattrs, Action<string, byte[]> set)
    {
        foreach ((string name, byte[] value) in xattrs)
        {
            if (name.Length == 0)
            {
                throw new InvalidLayerException($"entry '{entry}' has an xattr record with no name");
            }
            // overlayfs reads its own xattrs from the layers it stacks: a forged redirect, origin or metacopy would
            // make it look up other paths than the ones this layer holds. Only the unpacker sets them (opaque).
            if (name.StartsWith("trusted.overlay.", StringComparison.Ordinal) ||
                name.StartsWith("user.overlay.", StringComparison.Ordinal))
            {
                throw new UnsafeLayerException($"entry '{entry}' sets the overlayfs xattr '{name}'");
            }

            try
            {
                set(name, value);
            }
            catch (ErrnoException e) when (
                name.StartsWith("security.", StringComparison.Ordinal) &&
                e.Error is Errno.EOPNOTSUPP or Errno.EPERM or Errno.EACCES or Errno.EINVAL)
            {
                // security.* belongs to the node's LSMs: an SELinux or Smack label, an IMA/EVM hash from the build
                // host means nothing under this node's policy, and the kernel refuses it where the LSM is absent or
                // the label unknown. The container gets its label from the runtime (mount and process labels), so
                // the layer's is dropped rather than failing the pull. (security.capability is set wherever the
                // filesystem takes it; only a filesystem without it drops the file capabilities.)
            }
        }
    }

    /// <summary>
    /// mtime from the header; atime from the GNU field or the PAX "atime" record, and never before the mtime
    /// (containerd's latestTime rule).
    /// </summary>
    private static (DateTimeOffset Access, DateTimeOffset Modification) Times(TarEntry entry)
    {
        DateTimeOffset modification = entry.ModificationTime;
        DateTimeOffset access = entry switch
        {
            GnuTarEntry gnu => gnu.AccessTime,
            PaxTarEntry pax when pax.ExtendedAttributes.TryGetValue("atime", out string? text) &&
                                 TryParsePaxTime(text, out DateTimeOffset parsed) => parsed,
            _ => modification,
        };
        return (access > modification ? access : modification, modification);
    }

    private static bool TryParsePaxTime(string text, out DateTimeOffset time)
    {
        time = default;
        if (!decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal seconds))
        {
            return false;
        }
        try
        {
            time = DateTimeOffset.UnixEpoch.AddTicks((long)decimal.Truncate(seconds * TimeSpan.TicksPerSecond));
            return true;
        }
        catch (Exception e) when (e is OverflowException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>GNU sparse files: System.Formats.Tar hands over their raw map and fragments, which are not the file.</summary>
    private static void RejectSparse(TarEntry entry)
    {
        if (entry is PaxTarEntry pax && (pax.ExtendedAttributes.ContainsKey("GNU.sparse.major") ||
                                         pax.ExtendedAttributes.ContainsKey("GNU.sparse.map") ||
                                         pax.ExtendedAttributes.ContainsKey("GNU.sparse.size")))
        {
            throw new InvalidLayerException($"entry '{entry.Name}' is a GNU sparse file, which Berth does not unpack");
        }
    }
}
