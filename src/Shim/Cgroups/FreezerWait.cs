using System.Diagnostics;

namespace Berth.Shim.Cgroups;

/// <summary>
/// The bounded wait both freezers share: the kernel freezes a cgroup's tasks asynchronously (v1 reports
/// FREEZING, v2 "frozen 0" in cgroup.events until every task has stopped), so the new state is asked for and
/// then polled, as runc's freezer does, until it settles or the bound passes. A freeze that does not settle is
/// undone (thawed) before the failure is reported, so a container is never left half frozen.
/// </summary>
internal static class FreezerWait
{
    /// <summary>How long a freeze may take to settle: runc gives up after about a second on v1, two on v2.</summary>
    public static readonly TimeSpan DefaultBound = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Calls <paramref name="request"/> then <paramref name="settled"/> until it is true, sleeping 1 ms and then
    /// 10 ms between tries; false once <paramref name="bound"/> has passed.
    /// </summary>
    public static bool Until(Action request, Func<bool> settled, TimeSpan bound)
    {
        long started = Stopwatch.GetTimestamp();
        for (int attempt = 0; ; attempt++)
        {
            request();
            if (settled())
            {
                return true;
            }
            if (Stopwatch.GetElapsedTime(started) >= bound)
            {
                return false;
            }
            Thread.Sleep(attempt < 10 ? 1 : 10);
        }
    }

    /// <summary>The failure of a freeze that did not settle (the cgroup already thawed again).</summary>
    public static CgroupBusyException NotSettled(string file, TimeSpan bound) =>
        new($"the cgroup's tasks did not all freeze within {bound.TotalSeconds:0.#} s ({file}); it was thawed again", file);
}
