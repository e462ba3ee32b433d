using Microsoft.Win32.SafeHandles;

namespace Berth.Shim.Init;

/// <summary>
/// The container's root directory held open, and paths below it opened by the kernel within it:
/// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) resolves every symbolic link, absolute or
/// climbing, as if the root were "/", and refuses /proc's magic links, so a link that another
/// container sharing a volume swaps in after a destination was checked cannot lead a mount out of
/// the root (the runc CVE-2021-30465 family). What is then mounted goes through the open descriptor,
/// never through the path again.
/// </summary>
internal sealed class ContainerRoot : IDisposable
{
    private const Interop.ResolveFlags InRoot = Interop.ResolveFlags.InRoot | Interop.ResolveFlags.NoMagicLinks;

    private static readonly UnixFileMode s_directoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead
        | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private readonly SafeFileHandle _root;

    /// <param name="path">The root as the host sees it, already mounted (the overlay), without a trailing slash.</param>
    public ContainerRoot(string path)
    {
        Path = path.TrimEnd('/');
        _root = Interop.Sys.OpenAt(Interop.Sys.AtFdCwd, Path, Interop.OpenFlags.Path | Interop.OpenFlags.Directory | Interop.OpenFlags.CloseOnExec);
    }

    /// <summary>The root as the host sees it.</summary>
    public string Path { get; }

    /// <summary>The id of the root's own mount (the container's writable layer).</summary>
    public ulong MountId => Interop.Sys.MountIdOf(_root, Path);

    /// <summary>The path through which mount(2) reaches an open descriptor: /proc/self/fd/N.</summary>
    public static string ProcPath(SafeFileHandle handle) => $"/proc/self/fd/{handle.DangerousGetHandle()}";

    /// <summary>
    /// Opens (O_PATH) the container path <paramref name="containerPath"/>, first making what is
    /// missing of it inside the root: directories (mode 0755), and the last component as a directory
    /// or, when <paramref name="directory"/> is false, an empty file. Checks that the descriptor is at
    /// that path; a component swapped for a link on the way is refused.
    /// </summary>
    /// <exception cref="InvalidSpecException">The path resolved elsewhere than it did when it was checked.</exception>
    public SafeFileHandle OpenTarget(string containerPath, bool directory)
    {
        string relative = containerPath.Trim('/');
        string[] parts = relative.Length == 0 ? [] : relative.Split('/');
        for (int i = 0; i < parts.Length; i++)
        {
            string prefix = string.Join('/', parts, 0, i + 1);
            if (TryOpen(prefix) is { } existing)
            {
                existing.Dispose();
                continue;
            }
            using var parent = Open(string.Join('/', parts, 0, i));
            bool last = i == parts.Length - 1;
            try
            {
                if (last && !directory)
                {
                    Interop.Sys.OpenAt(parent, parts[i], Interop.OpenFlags.WriteOnly | Interop.OpenFlags.Create | Interop.OpenFlags.NoFollow
                        | Interop.OpenFlags.CloseOnExec, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead).Dispose();
                }
                else
                {
                    Interop.Sys.MkdirAt(parent, parts[i], s_directoryMode);
                }
            }
            catch (ErrnoException e) when (e.Error == Interop.Errno.EEXIST)
            {
                // Made meanwhile: the open below decides what it is.
            }
        }
        var target = Open(relative);
        string? actual = ContainerPathOf(target);
        if (actual != "/" + relative)
        {
            target.Dispose();
            throw new InvalidSpecException(
                $"{containerPath} in the container resolved to {actual ?? "a path outside its root"} when it was opened: a symbolic link on the way changed");
        }
        return target;
    }

    /// <summary>Opens (O_PATH) a path inside the root as the kernel resolves it there; null when it does not exist.</summary>
    public SafeFileHandle? TryOpen(string containerPath)
    {
        try
        {
            return Open(containerPath.Trim('/'));
        }
        catch (ErrnoException e) when (e.Error is Interop.Errno.ENOENT)
        {
            return null;
        }
    }

    /// <summary>The container path an open descriptor is at (readlink of its /proc/self/fd link); null when it is outside the root.</summary>
    public string? ContainerPathOf(SafeFileHandle handle)
    {
        string? host = Interop.Sys.TryReadLink(ProcPath(handle));
        return host == Path ? "/"
            : host is not null && host.StartsWith(Path + "/", StringComparison.Ordinal) ? host[Path.Length..]
            : null;
    }

    private SafeFileHandle Open(string relative) =>
        Interop.Sys.OpenAt2(_root, relative.Length == 0 ? "." : relative, Interop.OpenFlags.Path | Interop.OpenFlags.CloseOnExec, InRoot);

    public void Dispose() => _root.Dispose();
}
