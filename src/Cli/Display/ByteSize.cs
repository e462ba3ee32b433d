using System.Globalization;

namespace Berth.Cli.Display;

/// <summary>Sizes as docker prints them: decimal units (1 kB = 1000 B), three significant digits.</summary>
internal static class ByteSize
{
    private static readonly string[] Units = ["B", "kB", "MB", "GB", "TB"];

    /// <summary>"0B", "999B", "1.5kB", "12.3MB", "123MB".</summary>
    public static string Format(double bytes)
    {
        var unit = 0;
        while (bytes >= 999.5 && unit < Units.Length - 1)
        {
            bytes /= 1000;
            unit++;
        }
        var digits = unit == 0 || bytes >= 99.95 ? "0" : bytes >= 9.995 ? "0.#" : "0.##";
        return bytes.ToString(digits, CultureInfo.InvariantCulture) + Units[unit];
    }
}
