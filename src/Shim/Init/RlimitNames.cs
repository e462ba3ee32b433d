namespace Berth.Shim.Init;

/// <summary>rlimit names of the runtime spec and their resource numbers (Linux generic numbering).</summary>
internal static class RlimitNames
{
    private static readonly string[] s_names =
    [
        "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC",
        "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    ];

    public static bool TryParse(string name, out int resource)
    {
        resource = Array.IndexOf(s_names, name);
        return resource >= 0;
    }
}
