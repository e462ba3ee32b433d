namespace Berth.Core;

/// <summary>
/// Durations the CRI gives in whole seconds (StopContainer's grace period, ExecSync's timeout), as the
/// timers berthd can run. Kubernetes sets no maximum on terminationGracePeriodSeconds or probe
/// timeouts, while .NET's timers stop at about 49.7 days; a longer duration means "no limit".
/// </summary>
public static class CriDurations
{
    /// <summary>The longest duration taken as given: 30 days, in seconds; anything longer waits without end.</summary>
    public const long MaxSeconds = 30L * 24 * 3600;

    /// <summary>
    /// <paramref name="seconds"/> as a timer's duration: <see cref="Timeout.InfiniteTimeSpan"/> past
    /// <see cref="MaxSeconds"/>; zero or less stays zero (the caller says what zero means).
    /// </summary>
    public static TimeSpan FromSeconds(long seconds) =>
        seconds > MaxSeconds ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(Math.Max(0, seconds));
}
