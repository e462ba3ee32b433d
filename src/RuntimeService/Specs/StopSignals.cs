namespace Berth.RuntimeService.Specs;

/// <summary>Signal numbers as images and kubelet name them (Linux numbering, x86-64 and arm64 alike).</summary>
public static class StopSignals
{
    /// <summary>SIGTERM: what a container gets first when its image names no STOPSIGNAL.</summary>
    public const int Default = 15;

    /// <summary>SIGKILL.</summary>
    public const int Kill = 9;

    private static readonly Dictionary<string, int> Numbers = new(StringComparer.OrdinalIgnoreCase)
    {
        ["HUP"] = 1, ["INT"] = 2, ["QUIT"] = 3, ["ILL"] = 4, ["TRAP"] = 5, ["ABRT"] = 6, ["BUS"] = 7, ["FPE"] = 8,
        ["KILL"] = 9, ["USR1"] = 10, ["SEGV"] = 11, ["USR2"] = 12, ["PIPE"] = 13, ["ALRM"] = 14, ["TERM"] = 15,
        ["STKFLT"] = 16, ["CHLD"] = 17, ["CONT"] = 18, ["STOP"] = 19, ["TSTP"] = 20, ["TTIN"] = 21, ["TTOU"] = 22,
        ["URG"] = 23, ["XCPU"] = 24, ["XFSZ"] = 25, ["VTALRM"] = 26, ["PROF"] = 27, ["WINCH"] = 28, ["IO"] = 29,
        ["PWR"] = 30, ["SYS"] = 31,
    };

    /// <summary>An image's StopSignal ("SIGQUIT", "QUIT" or "3") as a number; null when absent or unknown.</summary>
    public static int? Parse(string? signal)
    {
        if (string.IsNullOrEmpty(signal))
        {
            return null;
        }
        if (int.TryParse(signal, out var number))
        {
            return number is > 0 and < 65 ? number : null;
        }
        var name = signal.StartsWith("SIG", StringComparison.OrdinalIgnoreCase) ? signal[3..] : signal;
        return Numbers.TryGetValue(name, out var value) ? value : null;
    }
}
