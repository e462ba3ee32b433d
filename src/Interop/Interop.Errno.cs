using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    /// <summary>
    /// The errno values the programs react to. Linux numbers them the same on x86-64 and arm64
    /// (asm-generic); values not listed here still arrive, as an undefined member that prints as a number.
    /// </summary>
    internal enum Errno
    {
        EPERM = 1,
        ENOENT = 2,
        ESRCH = 3,
        EINTR = 4,
        EIO = 5,
        ENOEXEC = 8,
        EBADF = 9,
        ECHILD = 10,
        EAGAIN = 11,
        ENOMEM = 12,
        EACCES = 13,
        EBUSY = 16,
        EEXIST = 17,
        EXDEV = 18,
        ENODEV = 19,
        ENOTDIR = 20,
        EISDIR = 21,
        EINVAL = 22,
        ENOSPC = 28,
        EROFS = 30,
        EMLINK = 31,
        EPIPE = 32,
        ERANGE = 34,
        ENAMETOOLONG = 36,
        ENOSYS = 38,
        ENOTEMPTY = 39,
        ELOOP = 40,
        ENODATA = 61,
        EOPNOTSUPP = 95,
        ECONNRESET = 104,
        EDQUOT = 122,
    }

    /// <summary>errno as captured by a <c>SetLastError = true</c> stub (never read libc's errno later: the runtime may have changed it).</summary>
    internal static Errno LastErrno() => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>The typed exception for the errno of the call just made.</summary>
    internal static ErrnoException Fail(string function, string? path = null) => new(LastErrno(), function, path);
}

/// <summary>A failed kernel call: the one typed form errno takes outside the Interop folder.</summary>
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

    /// <summary>The path argument of the call (relative to its directory fd, when it had one), or what the call acted on.</summary>
    public string? Path { get; }

    /// <summary>strerror's text and the errno's name; never a .NET resource key, whatever the build trims.</summary>
    public static string Describe(Interop.Errno error)
    {
        string name = Enum.IsDefined(error) ? error.ToString() : $"errno {(int)error}";
        return $"{Marshal.GetPInvokeErrorMessage((int)error)} ({name})";
    }

    private static string Describe(Interop.Errno error, string function, string? path) =>
        path is null ? $"{function}: {Describe(error)}" : $"{function} {path}: {Describe(error)}";
}
