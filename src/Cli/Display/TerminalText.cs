using System.Text;

namespace Berth.Cli.Display;

/// <summary>
/// What berthctl prints of strings it does not control (names in an archive or a registry, berthd's messages, a
/// container's paths): control characters, which a terminal would run as escape sequences (moving the cursor, rewriting
/// the title, hiding text), and the bidirectional overrides that reorder what is shown, are printed escaped (\x1b,
/// \u202e), as git and GNU ls -b quote them. Line feeds and tabs pass.
/// </summary>
internal static class TerminalText
{
    /// <summary><paramref name="text"/> with every control and bidirectional-override character written as an escape.</summary>
    public static string Safe(string text)
    {
        if (!text.AsSpan().ContainsAny(Unsafe))
        {
            return text;
        }
        var safe = new StringBuilder(text.Length + 8);
        foreach (var character in text)
        {
            if (!Unsafe.Contains(character))
            {
                safe.Append(character);
            }
            else if (character <= 0xff)
            {
                safe.Append(@"\x").Append(((int)character).ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                safe.Append(@"\u").Append(((int)character).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return safe.ToString();
    }

    // C0 but line feed and tab, DEL, C1, and the Unicode bidirectional embeddings, overrides and isolates.
    private static readonly System.Buffers.SearchValues<char> Unsafe = System.Buffers.SearchValues.Create(
        Enumerable.Range(0, 0x20).Where(code => code is not ('\n' or '\t'))
            .Concat(Enumerable.Range(0x7f, 0x21))
            .Concat(Enumerable.Range(0x202a, 5))
            .Concat(Enumerable.Range(0x2066, 4))
            .Select(code => (char)code).ToArray());

    /// <summary>
    /// Wraps stdout or stderr so everything written through it is <see cref="Safe"/>: set once at start, so no command
    /// can forget. The terminal pull display, which draws with escapes of its own, writes to the raw stream and makes its
    /// own text safe.
    /// </summary>
    public sealed class Writer(TextWriter inner) : TextWriter
    {
        public override Encoding Encoding => inner.Encoding;

        public override IFormatProvider FormatProvider => inner.FormatProvider;

        public override void Write(char value) => inner.Write(Safe(value.ToString()));

        public override void Write(string? value) => inner.Write(value is null ? null : Safe(value));

        public override void Write(char[] buffer, int index, int count) => inner.Write(Safe(new string(buffer, index, count)));

        public override void WriteLine(string? value) => inner.WriteLine(value is null ? null : Safe(value));

        public override void Flush() => inner.Flush();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
