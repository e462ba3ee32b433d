namespace Berth.Shim.Security;

/// <summary>
/// A libseccomp filter being built in this process (<see cref="SeccompFilter.Compile"/>), then loaded.
/// Only the init and exec stages make one: the first call maps libseccomp, which the shim's monitor
/// never does. The context is not released: the stage execs (or exits) soon after loading it.
/// </summary>
internal sealed class LibSeccompContext : ISeccompContext
{
    private nint _context;

    public void Create(uint defaultAction) => _context = Interop.Sys.SeccompInit(defaultAction);

    public bool AddArchitecture(string name)
    {
        uint arch = Interop.Sys.SeccompArchitecture(name);
        if (arch == 0)
        {
            return false;
        }
        Interop.Sys.SeccompAddArchitecture(_context, arch, name);
        return true;
    }

    public void SetAttribute(int attribute, uint value) => Interop.Sys.SeccompSetAttribute(_context, attribute, value);

    public int? ResolveSyscall(string name) => Interop.Sys.SeccompSyscall(name);

    public void AddRule(uint action, int syscall, IReadOnlyList<SeccompCompare> compares, string name)
    {
        Span<Interop.SeccompArgCompare> args = stackalloc Interop.SeccompArgCompare[compares.Count];
        for (int i = 0; i < args.Length; i++)
        {
            var compare = compares[i];
            args[i] = new Interop.SeccompArgCompare
            {
                Argument = compare.Argument, Operator = compare.Operator, DatumA = compare.DatumA, DatumB = compare.DatumB,
            };
        }
        Interop.Sys.SeccompAddRule(_context, action, syscall, args, name);
    }

    /// <summary>seccomp(2) through libseccomp: from here on every thread of this process is filtered.</summary>
    public void Load() => Interop.Sys.SeccompLoad(_context);

    /// <summary>The compiled filter of <paramref name="profile"/>, not loaded yet; null when the spec has none.</summary>
    public static LibSeccompContext? Prepare(Api.Shim.LinuxSeccomp? profile)
    {
        if (profile is null)
        {
            return null;
        }
        var context = new LibSeccompContext();
        try
        {
            SeccompFilter.Compile(profile, context);
        }
        catch (DllNotFoundException)
        {
            throw new InvalidSpecException(
                $"the container has a seccomp profile, and {Interop.Libraries.Libseccomp} is not on this node (Debian package libseccomp2)");
        }
        return context;
    }
}
