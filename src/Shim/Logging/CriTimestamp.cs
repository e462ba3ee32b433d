namespace Berth.Shim.Logging;

/// <summary>RFC 3339 timestamps in UTC with nanoseconds, formatted without allocating.</summary>
internal static class CriTimestamp
{
    /// <summary><c>2006-01-02T15:04:05.000000000Z</c>: 30 bytes.</summary>
    public const int Length = 30;

    public static void Format(long unixNanos, Span<byte> destination)
    {
        long seconds = Math.DivRem(unixNanos, 1_000_000_000L, out long nanos);
        if (nanos < 0)
        {
            nanos += 1_000_000_000L;
            seconds--;
        }
        long days = Math.DivRem(seconds, 86400L, out long secondOfDay);
        if (secondOfDay < 0)
        {
            secondOfDay += 86400;
            days--;
        }
        // Howard Hinnant's civil_from_days.
        long z = days + 719468;
        long era = (z >= 0 ? z : z - 146096) / 146097;
        long doe = z - era * 146097;
        long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        long year = yoe + era * 400;
        long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        long mp = (5 * doy + 2) / 153;
        long day = doy - (153 * mp + 2) / 5 + 1;
        long month = mp < 10 ? mp + 3 : mp - 9;
        if (month <= 2)
        {
            year++;
        }

        Digits(destination[..4], year);
        destination[4] = (byte)'-';
        Digits(destination.Slice(5, 2), month);
        destination[7] = (byte)'-';
        Digits(destination.Slice(8, 2), day);
        destination[10] = (byte)'T';
        Digits(destination.Slice(11, 2), secondOfDay / 3600);
        destination[13] = (byte)':';
        Digits(destination.Slice(14, 2), secondOfDay / 60 % 60);
        destination[16] = (byte)':';
        Digits(destination.Slice(17, 2), secondOfDay % 60);
        destination[19] = (byte)'.';
        Digits(destination.Slice(20, 9), nanos);
        destination[29] = (byte)'Z';
    }

    private static void Digits(Span<byte> destination, long value)
    {
        for (int i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + value % 10);
            value /= 10;
        }
    }
}
