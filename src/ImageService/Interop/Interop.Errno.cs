using System.Runtime.InteropServices;

namespace Berth.ImageService;

internal static partial class Interop
{
    /// <summary>
    /// The errno values this program reacts to. Linux numbers them the same on x86-64 and arm64
    /// (asm-generic); values not listed here still arrive, as an undefined member that prints as a number.
    /// </summary>
    internal enum Errno
    {
        EPERM = 1,
        ENOENT = 2,
        EINTR = 4,
        EIO = 5,
        EBADF = 9,
        EAGAIN = 11,
        ENOMEM = 12,
        EACCES = 13,
        EEXIST = 17,
        EXDEV = 18,
        ENOTDIR = 20,
        EISDIR = 21,
        EINVAL = 22,
        ENOSPC = 28,
        EROFS = 30,
        EMLINK = 31,
        ERANGE = 34,
        ENAMETOOLONG = 36,
        ENOSYS = 38,
        ENOTEMPTY = 39,
        ELOOP = 40,
        ENODATA = 61,
        EOPNOTSUPP = 95,
        EDQUOT = 122,
    }

    /// <summary>Reads errno as captured by a <c>SetLastError = true</c> stub (never read libc's errno later: the runtime may have changed it).</summary>
    private static Errno LastErrno() => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>Throws the typed exception for the errno of the call just made.</summary>
    private static ErrnoException Fail(string function, string? path) => new(LastErrno(), function, path);
}

/// <summary>
/// A failed kernel call: the one typed form errno takes outside the Interop folder.
/// </summary>
internal sealed class ErrnoException : IOException
{
    public ErrnoException(Interop.Errno error, string function, string? path)
        : base(Describe(error, function, path))
    {
        Error = error;
        Function = function;
        Path = path;
        HResult = (int)error;
    }

    public Interop.Errno Error { get; }

    /// <summary>The libc function or system call that failed, e.g. <c>mkdirat</c>.</summary>
    public string Function { get; }

    /// <summary>The path argument of the call, relative to its directory fd, when it had one.</summary>
    public string? Path { get; }

    private static string Describe(Interop.Errno error, string function, string? path)
    {
        string text = Marshal.GetPInvokeErrorMessage((int)error);
        string name = Enum.IsDefined(error) ? error.ToString() : $"errno {(int)error}";
        return path is null ? $"{function}: {text} ({name})" : $"{function}('{path}'): {text} ({name})";
    }
}
