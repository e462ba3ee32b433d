using System.Globalization;
using System.Text;

namespace Berth.RuntimeService.Validation;

/// <summary>
/// How a refused value appears in an error: a short prefix in quotes, with NUL, control and format
/// characters (newlines, bidi overrides) escaped, so no request can make berthd echo unbounded or
/// terminal-spoofing text into its answer or its log.
/// </summary>
internal static class Shown
{
    /// <summary>The most characters of a value shown; a longer one ends in "…".</summary>
    public const int MaxChars = 32;

    /// <summary><paramref name="value"/>'s prefix, escaped and quoted.</summary>
    public static string Quoted(ReadOnlySpan<char> value)
    {
        int shown = Math.Min(value.Length, MaxChars);
        // Keep a surrogate pair whole.
        if (shown < value.Length && shown > 0 && char.IsHighSurrogate(value[shown - 1]))
        {
            shown--;
        }
        var text = new StringBuilder(shown + 8).Append('"');
        foreach (char c in value[..shown])
        {
            switch (c)
            {
                case '\0': text.Append("\\0"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                default:
                    if (char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Format
                        or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
                    {
                        text.Append(c <= 0xFF ? $"\\x{(int)c:x2}" : $"\\u{(int)c:x4}");
                    }
                    else
                    {
                        text.Append(c);
                    }
                    break;
            }
        }
        text.Append('"');
        if (shown < value.Length)
        {
            text.Append('…');
        }
        return text.ToString();
    }

    /// <summary>The same for bytes that become a string: UTF-8, with invalid sequences shown as U+FFFD.</summary>
    public static string Quoted(ReadOnlySpan<byte> value)
    {
        // Decode a little more than is shown, so the "…" still appears for a longer value.
        var prefix = value[..Math.Min(value.Length, MaxChars * 4)];
        string decoded = Encoding.UTF8.GetString(prefix);
        return prefix.Length < value.Length && decoded.Length <= MaxChars ? Quoted(decoded) + "…" : Quoted(decoded);
    }
}
