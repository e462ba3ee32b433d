using System.Runtime.InteropServices;

namespace Berth.Shim;

internal static partial class Interop
{
    /// <summary>The errno values the shim reacts to (asm-generic numbering: x86-64 and arm64 agree).</summary>
    internal enum Errno
    {
        EPERM = 1,
        ENOENT = 2,
        ESRCH = 3,
        EINTR = 4,
        EIO = 5,
        EBADF = 9,
        ECHILD = 10,
        EAGAIN = 11,
        ENOMEM = 12,
        EACCES = 13,
        EBUSY = 16,
        EEXIST = 17,
        ENODEV = 19,
        ENOTDIR = 20,
        EISDIR = 21,
        EINVAL = 22,
        ENOSPC = 28,
        EROFS = 30,
        EPIPE = 32,
        ERANGE = 34,
        ENOSYS = 38,
        ENOTEMPTY = 39,
        ELOOP = 40,
        ENOEXEC = 8,
        EOPNOTSUPP = 95,
        ECONNRESET = 104,
    }

    /// <summary>errno as captured by a <c>SetLastError = true</c> stub.</summary>
    internal static Errno LastErrno() => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>The typed exception for the errno of the call just made.</summary>
    internal static ErrnoException Fail(string function, string? path = null) => new(LastErrno(), function, path);
}

/// <summary>A failed kernel call: the one form errno takes outside the Interop folder.</summary>
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

    public string Function { get; }

    public string? Path { get; }

    private static string Describe(Interop.Errno error, string function, string? path)
    {
        string text = Marshal.GetPInvokeErrorMessage((int)error);
        string name = Enum.IsDefined(error) ? error.ToString() : $"errno {(int)error}";
        return path is null ? $"{function}: {text} ({name})" : $"{function} {path}: {text} ({name})";
    }
}
