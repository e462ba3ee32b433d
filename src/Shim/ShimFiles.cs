using System.Text;

namespace Berth.Shim;

/// <summary>
/// The file operations of the shim's stages and monitor that can fail, made through its own kernel
/// calls so that a failure names the call and the path in strerror's words
/// (<see cref="ErrnoException"/>) in every build flavour: the published shim is built with
/// UseSystemResourceKeys, where the BCL's File and Directory exceptions carry resource keys
/// ("IO_PathNotFound_Path, /proc/self/status") instead of text. Existence checks
/// (<see cref="File.Exists"/>, <see cref="Directory.Exists"/>) never throw and stay the BCL's.
/// </summary>
internal static class ShimFiles
{
    /// <summary>The mode mkdir(2) and open(2) are given; the process's umask takes its part, as with the BCL's calls.</summary>
    private const uint DirectoryMode = 0b111_111_111;
    private const uint FileMode = 0b110_110_110;

    /// <summary>mkdir -p: every missing directory of <paramref name="path"/>; one that exists (or a link to one) is kept.</summary>
    /// <exception cref="ErrnoException">mkdir failed (a component is a file: ENOTDIR; EACCES, EROFS, ...).</exception>
    public static void MakeDirectories(string path)
    {
        for (int slash = path.IndexOf('/', 1); slash > 0; slash = path.IndexOf('/', slash + 1))
        {
            Interop.Sys.MkDir(path[..slash], DirectoryMode);
        }
        if (path.Length > 0 && path[^1] != '/')
        {
            Interop.Sys.MkDir(path, DirectoryMode);
        }
    }

    /// <summary>Creates <paramref name="path"/> as an empty file unless something is there already (a mount point for a file).</summary>
    public static void CreateFile(string path) =>
        Interop.Sys.Close(Interop.Sys.Open(path, Interop.Sys.O_WRONLY | Interop.Sys.O_CREAT, FileMode));

    /// <summary>The whole content of a file (a /proc or config file: small).</summary>
    /// <exception cref="ErrnoException">open or read failed, naming <paramref name="path"/>.</exception>
    public static byte[] ReadAll(string path)
    {
        int fd = Interop.Sys.Open(path, Interop.Sys.O_RDONLY);
        try
        {
            // On the heap, not the stack: the monitor reads its bundle with this, and a deeper
            // stack stays resident in every shim.
            byte[] content = new byte[4096];
            int length = 0;
            int n;
            while ((n = Interop.Sys.Read(fd, content.AsSpan(length))) > 0)
            {
                length += n;
                if (length == content.Length)
                {
                    Array.Resize(ref content, content.Length * 2);
                }
            }
            return content[..length];
        }
        catch (ErrnoException e)
        {
            throw new ErrnoException(e.Error, "read", path);
        }
        finally
        {
            Interop.Sys.Close(fd);
        }
    }

    /// <summary>A file's text (UTF-8).</summary>
    /// <exception cref="ErrnoException">open or read failed, naming <paramref name="path"/>.</exception>
    public static string ReadText(string path) => Encoding.UTF8.GetString(ReadAll(path));

    /// <summary>Removes a file, a link or a socket (never following a link); nothing there is no error.</summary>
    /// <exception cref="ErrnoException">unlink failed otherwise (EISDIR, EBUSY for a mount point, ...).</exception>
    public static void Delete(string path)
    {
        try
        {
            Interop.Sys.Unlink(path);
        }
        catch (ErrnoException e) when (e.Error == Interop.Errno.ENOENT)
        {
        }
    }

    /// <summary>Creates the symbolic link <paramref name="path"/> holding <paramref name="target"/>.</summary>
    /// <exception cref="ErrnoException">symlink failed (EEXIST when something is there, ...).</exception>
    public static void CreateSymlink(string path, string target) => Interop.Sys.SymlinkAt(target, Interop.Sys.AtFdCwd, path);
}
