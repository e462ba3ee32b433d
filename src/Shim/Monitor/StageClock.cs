using Berth.Api.Shim;

namespace Berth.Shim.Monitor;

/// <summary>
/// The shim's own steps from its main() to the answer to Create, each with its start and end by the
/// real-time clock (Unix nanoseconds), so berthd can place them in its trace beside its own spans
/// (berthd and the shim share the node's clock). Only start-up and Create mark steps, never the
/// monitor's loop, so the loop still allocates nothing.
/// </summary>
internal sealed class StageClock
{
    private readonly List<StageTiming> _stages = new(8);
    private long _last;

    /// <param name="started">When the shim's main() began, from <see cref="Now"/>.</param>
    public StageClock(long started) => _last = started;

    /// <summary>The real-time clock (CLOCK_REALTIME) in Unix nanoseconds.</summary>
    public static long Now() => Interop.Sys.RealtimeNanos();

    /// <summary>Records the step <paramref name="name"/> as running from the end of the previous step until now.</summary>
    public void Mark(string name)
    {
        long now = Now();
        _stages.Add(new StageTiming { Name = name, StartUnixNanos = _last, EndUnixNanos = now });
        _last = now;
    }

    /// <summary>Moves the steps so far into <paramref name="response"/> (Create's answer); the next step starts now.</summary>
    public void MoveTo(StateResponse response)
    {
        response.StageTimings.Add(_stages);
        _stages.Clear();
        _stages.Capacity = 0;
    }
}
