namespace Berth.ImageService.Registry;

/// <summary>One challenge of a WWW-Authenticate header (RFC 7235), e.g. Bearer realm="...",service="...",scope="...".</summary>
internal sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public const string Bearer = "Bearer";
    public const string Basic = "Basic";

    public bool Is(string scheme) => string.Equals(Scheme, scheme, StringComparison.OrdinalIgnoreCase);

    public string? this[string parameter] => Parameters.GetValueOrDefault(parameter);

    /// <summary>
    /// The challenges in one header value; a header may hold several, separated by commas like the
    /// parameters are (a name followed by '=' continues the challenge, any other name starts the next).
    /// Parameter names are case-insensitive; quoted values may hold commas and backslash escapes.
    /// </summary>
    public static IReadOnlyList<AuthChallenge> Parse(string header)
    {
        var challenges = new List<AuthChallenge>();
        var position = 0;
        while (true)
        {
            SkipSeparators(header, ref position);
            if (position >= header.Length)
            {
                return challenges;
            }
            var scheme = ReadToken(header, ref position);
            if (scheme.Length == 0)
            {
                position++; // not a token: skip the stray character rather than stop
                continue;
            }
            var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            while (TryReadParameter(header, ref position) is (string name, string value))
            {
                parameters[name] = value;
            }
            challenges.Add(new AuthChallenge(scheme, parameters));
        }
    }

    private static (string Name, string Value)? TryReadParameter(string header, ref int position)
    {
        var start = position;
        SkipSeparators(header, ref position);
        var name = ReadToken(header, ref position);
        SkipWhitespace(header, ref position);
        if (name.Length == 0 || position >= header.Length || header[position] != '=')
        {
            position = start;
            return null;
        }
        position++;
        SkipWhitespace(header, ref position);
        return (name, position < header.Length && header[position] == '"'
            ? ReadQuoted(header, ref position)
            : ReadUntil(header, ref position, static c => c == ',' || char.IsWhiteSpace(c)));
    }

    private static string ReadQuoted(string header, ref int position)
    {
        var value = new System.Text.StringBuilder();
        position++; // opening quote
        while (position < header.Length && header[position] != '"')
        {
            if (header[position] == '\\' && position + 1 < header.Length)
            {
                position++;
            }
            value.Append(header[position++]);
        }
        position++; // closing quote, if any
        return value.ToString();
    }

    private static string ReadToken(string header, ref int position) => ReadUntil(header, ref position, static c => !IsTokenChar(c));

    private static string ReadUntil(string header, ref int position, Func<char, bool> stop)
    {
        var start = position;
        Advance(header, ref position, c => !stop(c));
        return header[start..position];
    }

    private static void SkipSeparators(string header, ref int position) =>
        Advance(header, ref position, static c => c == ',' || char.IsWhiteSpace(c));

    private static void SkipWhitespace(string header, ref int position) => Advance(header, ref position, char.IsWhiteSpace);

    private static void Advance(string header, ref int position, Func<char, bool> skip)
    {
        while (position < header.Length && skip(header[position]))
        {
            position++;
        }
    }

    // RFC 9110 tchar.
    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c);
}
