using System.Globalization;

namespace Berth.RuntimeService.Stats;

/// <summary>The cumulative counters of one network interface of a pod's network namespace, as /proc/net/dev gives them (bytes, packets).</summary>
public sealed record InterfaceCounters(
    string Name,
    ulong RxBytes,
    ulong RxPackets,
    ulong RxErrors,
    ulong RxDropped,
    ulong TxBytes,
    ulong TxPackets,
    ulong TxErrors,
    ulong TxDropped)
{
    /// <summary>
    /// The interfaces of a /proc/net/dev text (two header lines, then <c>name: rx bytes packets errs drop
    /// fifo frame compressed multicast tx bytes packets errs drop fifo colls carrier compressed</c>), loopback
    /// left out as cAdvisor leaves it out. Lines that do not parse are skipped.
    /// </summary>
    public static IReadOnlyList<InterfaceCounters> ParseNetDev(string text)
    {
        var interfaces = new List<InterfaceCounters>();
        foreach (string line in text.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon < 0)
            {
                continue;
            }
            string name = line[..colon].Trim();
            string[] fields = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (name.Length == 0 || name == "lo" || fields.Length < 16 || !TryNumbers(fields, out ulong[] values))
            {
                continue;
            }
            interfaces.Add(new InterfaceCounters(name, values[0], values[1], values[2], values[3], values[8], values[9], values[10], values[11]));
        }
        return interfaces;
    }

    private static bool TryNumbers(string[] fields, out ulong[] values)
    {
        values = new ulong[fields.Length];
        for (int i = 0; i < fields.Length; i++)
        {
            if (!ulong.TryParse(fields[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]))
            {
                return false;
            }
        }
        return true;
    }
}
