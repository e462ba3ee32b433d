namespace Berth.Shim.Cgroups;

/// <summary>A cgroup operation the kernel refused or the node cannot do. Invalid input is an <see cref="InvalidSpecException"/> instead.</summary>
internal abstract class CgroupException : IOException
{
    protected CgroupException(string message, string? file)
        : base(message)
    {
        File = file;
    }

    /// <summary>The control file (or directory) concerned, when there is one.</summary>
    public string? File { get; }
}

/// <summary>
/// A limit was asked for that this node cannot enforce: its controller is not mounted (v1) or not
/// enabled (v2), or the kernel lacks the control file (ENOENT), e.g. memory.memsw.* without swap
/// accounting or cpu.rt_* without CONFIG_RT_GROUP_SCHED.
/// </summary>
internal sealed class CgroupUnsupportedException : CgroupException
{
    public CgroupUnsupportedException(string message, string? file = null)
        : base(message, file)
    {
    }
}

/// <summary>The kernel refused a value written to a control file (EINVAL, EBUSY, EPERM, ...).</summary>
internal sealed class CgroupWriteException : CgroupException
{
    public CgroupWriteException(Interop.Errno error, string file, string value, string? hint)
        : base(Describe(error, file, value, hint), file)
    {
        Error = error;
        Value = value;
    }

    public Interop.Errno Error { get; }

    public string Value { get; }

    private static string Describe(Interop.Errno error, string file, string value, string? hint)
    {
        string text = new ErrnoException(error, "write", file).Message;
        return hint is null ? $"{text} (value {value.TrimEnd()})" : $"{text} (value {value.TrimEnd()}): {hint}";
    }
}

/// <summary>A cgroup could not be removed: it still holds tasks or child cgroups after the drain wait, or rmdir failed otherwise.</summary>
internal sealed class CgroupBusyException : CgroupException
{
    public CgroupBusyException(string message, string? file)
        : base(message, file)
    {
    }
}
