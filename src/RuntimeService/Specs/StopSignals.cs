using Cri = Berth.Api.Cri;

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
        // Linux's other names for three of them, which the CRI's Signal enum lists too.
        ["CLD"] = 17, ["IOT"] = 6, ["POLL"] = 29,
    };

    /// <summary>SIGRTMIN as glibc and Go's moby/sys/signal number it (the kernel's 32 and 33 are libc's own).</summary>
    private const int RealtimeMin = 34;

    /// <summary>An image's StopSignal ("SIGQUIT", "QUIT" or "3") as a number; null when absent or unknown.</summary>
    public static int? Parse(string? signal)
    {
        if (string.IsNullOrEmpty(signal))
        {
            return null;
        }
        if (int.TryParse(signal, out var number))
        {
            return number is > 0 and <= 64 ? number : null;
        }
        var name = signal.StartsWith("SIG", StringComparison.OrdinalIgnoreCase) ? signal[3..] : signal;
        return Numbers.TryGetValue(name, out var value) ? value : null;
    }

    /// <summary>
    /// The CRI's ContainerConfig.stop_signal as a number; null for SIGNAL_RUNTIME_DEFAULT (the image's, else
    /// SIGTERM). The enum lists the named signals, then SIGRTMIN, SIGRTMIN+1 … SIGRTMAX in order.
    /// </summary>
    public static int? FromCri(Cri.Signal signal) => signal switch
    {
        Cri.Signal.RuntimeDefault => null,
        >= Cri.Signal.Sigrtmin => RealtimeMin + (signal - Cri.Signal.Sigrtmin),
        _ => Parse(signal.ToString()),
    };

    /// <summary>A signal number as the CRI's Signal enum, for ContainerStatus.stop_signal.</summary>
    public static Cri.Signal ToCri(int signal)
    {
        if (signal >= RealtimeMin)
        {
            return Cri.Signal.Sigrtmin + (signal - RealtimeMin);
        }
        foreach (var named in Enum.GetValues<Cri.Signal>())
        {
            if (named is > Cri.Signal.RuntimeDefault and < Cri.Signal.Sigrtmin && Parse(named.ToString()) == signal)
            {
                return named;
            }
        }
        return Cri.Signal.RuntimeDefault;
    }
}
