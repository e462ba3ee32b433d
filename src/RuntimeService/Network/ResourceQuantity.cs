using System.Globalization;

namespace Berth.RuntimeService.Network;

/// <summary>
/// Kubernetes resource quantities ("10M", "1.5Gi", "100k", "1e6"), as apimachinery's ParseQuantity reads
/// them, turned into a whole number the way Quantity.Value() rounds (up). Written here because the only
/// .NET implementation is inside KubernetesClient, a whole API client berthd has no other use for.
/// </summary>
public static class ResourceQuantity
{
    private static readonly (string Suffix, decimal Factor)[] Suffixes =
    [
        ("Ki", 1024m), ("Mi", 1024m * 1024), ("Gi", 1024m * 1024 * 1024), ("Ti", 1024m * 1024 * 1024 * 1024),
        ("Pi", 1024m * 1024 * 1024 * 1024 * 1024), ("Ei", 1024m * 1024 * 1024 * 1024 * 1024 * 1024),
        ("n", 0.000000001m), ("u", 0.000001m), ("m", 0.001m), ("k", 1e3m), ("M", 1e6m), ("G", 1e9m), ("T", 1e12m),
        ("P", 1e15m), ("E", 1e18m),
    ];

    /// <summary>The quantity's value rounded up to an integer; false when the text is not a quantity or the value does not fit.</summary>
    public static bool TryParse(string text, out decimal value)
    {
        value = 0;
        if (text.Length == 0 || text.Length > 64)
        {
            return false;
        }
        int end = 0;
        if (text[0] is '+' or '-')
        {
            end = 1;
        }
        int digitsStart = end;
        while (end < text.Length && (char.IsAsciiDigit(text[end]) || text[end] == '.'))
        {
            end++;
        }
        string number = text[..end];
        string suffix = text[end..];
        if (end == digitsStart || number.Count(c => c == '.') > 1 || number.EndsWith('.') && end - digitsStart == 1
            || !decimal.TryParse(number, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal mantissa))
        {
            return false;
        }
        decimal factor;
        if (suffix.Length == 0)
        {
            factor = 1;
        }
        else if (suffix[0] is 'e' or 'E' && suffix.Length > 1 && int.TryParse(suffix.AsSpan(1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int exponent))
        {
            if (exponent is < -18 or > 18)
            {
                return false;
            }
            factor = exponent >= 0 ? Pow10(exponent) : 1m / Pow10(-exponent);
        }
        else
        {
            var match = Suffixes.FirstOrDefault(entry => entry.Suffix == suffix);
            if (match.Suffix is null)
            {
                return false;
            }
            factor = match.Factor;
        }
        try
        {
            value = decimal.Ceiling(mantissa * factor);
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    private static decimal Pow10(int exponent)
    {
        decimal result = 1;
        for (int i = 0; i < exponent; i++)
        {
            result *= 10;
        }
        return result;
    }
}
