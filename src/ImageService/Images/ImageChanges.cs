using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Core.Errors;

namespace Berth.ImageService.Images;

/// <summary>One Dockerfile instruction of a commit or import <c>--change</c>, parsed.</summary>
/// <param name="Instruction">CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER or EXPOSE, upper case.</param>
/// <param name="Words">CMD and ENTRYPOINT: the argv (a shell form already wrapped in /bin/sh -c); ENV and LABEL: key, value, key, value...;
/// WORKDIR and USER: one word; EXPOSE: "port/proto" each.</param>
public sealed record ImageChange(string Instruction, IReadOnlyList<string> Words);

/// <summary>
/// The <c>--change</c> instructions docker commit and docker import take (CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER,
/// EXPOSE), parsed as the Dockerfile reference gives them: CMD and ENTRYPOINT in exec form (a JSON array) or shell form
/// (wrapped in ["/bin/sh", "-c", ...]); ENV and LABEL as key=value pairs with Dockerfile quoting, or ENV's legacy
/// "key value"; WORKDIR relative to the one before; EXPOSE as port[/tcp|udp|sctp]. Applied to the image config's
/// "config" object as docker's commit does (moby daemon/commit.go, builder/dockerfile/dispatchers.go).
/// </summary>
public static class ImageChanges
{
    private static readonly string[] Supported = ["CMD", "ENTRYPOINT", "ENV", "LABEL", "WORKDIR", "USER", "EXPOSE"];

    /// <summary>Parses every change, so a bad one is refused before anything is done.</summary>
    /// <exception cref="BerthException">InvalidArgument naming the change and what is wrong with it.</exception>
    public static IReadOnlyList<ImageChange> Parse(IEnumerable<string> changes) => changes.Select(ParseOne).ToList();

    private static ImageChange ParseOne(string text)
    {
        var line = text.Trim();
        var space = line.IndexOfAny([' ', '\t']);
        var instruction = (space < 0 ? line : line[..space]).ToUpperInvariant();
        var rest = space < 0 ? "" : line[(space + 1)..].Trim();
        if (!Supported.Contains(instruction))
        {
            throw Invalid(text, instruction.Length == 0
                ? "it is empty"
                : $"{instruction} cannot be changed; the instructions are {string.Join(", ", Supported)}");
        }
        if (rest.Length == 0)
        {
            throw Invalid(text, $"{instruction} needs an argument");
        }
        return instruction switch
        {
            "CMD" or "ENTRYPOINT" => new ImageChange(instruction, Command(text, rest)),
            "ENV" => new ImageChange(instruction, Pairs(text, rest, legacySpaceForm: true)),
            "LABEL" => new ImageChange(instruction, Pairs(text, rest, legacySpaceForm: false)),
            "EXPOSE" => new ImageChange(instruction, Words(text, rest).Select(port => Port(text, port)).ToList()),
            _ => new ImageChange(instruction, [Single(text, rest)]),
        };
    }

    /// <summary>Applies the changes, in order, to an image config's "config" object (the runtime part).</summary>
    public static void Apply(JsonObject config, IEnumerable<ImageChange> changes)
    {
        foreach (var change in changes)
        {
            switch (change.Instruction)
            {
                case "CMD":
                    config["Cmd"] = Array(change.Words);
                    break;
                case "ENTRYPOINT":
                    config["Entrypoint"] = Array(change.Words);
                    // As a Dockerfile's ENTRYPOINT does: the old CMD was the old entrypoint's arguments.
                    config.Remove("Cmd");
                    break;
                case "ENV":
                    var env = (config["Env"] as JsonArray)?.Select(item => item?.GetValue<string>() ?? "").ToList() ?? [];
                    for (var i = 0; i < change.Words.Count; i += 2)
                    {
                        var prefix = change.Words[i] + "=";
                        env.RemoveAll(entry => entry.StartsWith(prefix, StringComparison.Ordinal) || entry == change.Words[i]);
                        env.Add(prefix + change.Words[i + 1]);
                    }
                    config["Env"] = Array(env);
                    break;
                case "LABEL":
                    var labels = Object(config, "Labels");
                    for (var i = 0; i < change.Words.Count; i += 2)
                    {
                        labels[change.Words[i]] = change.Words[i + 1];
                    }
                    break;
                case "EXPOSE":
                    var ports = Object(config, "ExposedPorts");
                    foreach (var port in change.Words)
                    {
                        ports[port] = new JsonObject();
                    }
                    break;
                case "WORKDIR":
                    var current = (string?)config["WorkingDir"] ?? "/";
                    config["WorkingDir"] = change.Words[0].StartsWith('/')
                        ? change.Words[0]
                        : Path.Join(current.Length == 0 ? "/" : current, change.Words[0]);
                    break;
                case "USER":
                    config["User"] = change.Words[0];
                    break;
            }
        }
    }

    private static JsonArray Array(IEnumerable<string> words) => new(words.Select(word => (JsonNode?)JsonValue.Create(word)).ToArray());

    private static JsonObject Object(JsonObject config, string name)
    {
        if (config[name] is JsonObject existing)
        {
            return existing;
        }
        var created = new JsonObject();
        config[name] = created;
        return created;
    }

    /// <summary>Exec form (a JSON array of strings) or shell form (run by /bin/sh -c, as a Dockerfile runs it).</summary>
    private static List<string> Command(string text, string rest)
    {
        if (!rest.StartsWith('['))
        {
            return ["/bin/sh", "-c", rest];
        }
        try
        {
            using var document = JsonDocument.Parse(rest);
            if (document.RootElement.ValueKind == JsonValueKind.Array &&
                document.RootElement.EnumerateArray().All(item => item.ValueKind == JsonValueKind.String))
            {
                return document.RootElement.EnumerateArray().Select(item => item.GetString()!).ToList();
            }
        }
        catch (JsonException)
        {
            // As the Dockerfile parser does, a '[' that is not a JSON array of strings is shell form... but a
            // change given on a command line is far likelier a typo: say so rather than run "[..." through a shell.
        }
        throw Invalid(text, "the exec form must be a JSON array of strings, such as [\"sh\", \"-c\", \"echo hi\"]");
    }

    /// <summary>key=value pairs (ENV and LABEL); ENV also takes "key value..." with one key.</summary>
    private static List<string> Pairs(string text, string rest, bool legacySpaceForm)
    {
        var words = Words(text, rest);
        if (legacySpaceForm && !words[0].Contains('='))
        {
            var separator = rest.IndexOfAny([' ', '\t']);
            return separator < 0
                ? throw Invalid(text, "ENV needs key=value, or a key and a value")
                : [Key(text, words[0]), Unquote(text, rest[(separator + 1)..].Trim(), keepSpaces: true)];
        }
        var pairs = new List<string>();
        foreach (var word in words)
        {
            var equals = word.IndexOf('=');
            if (equals <= 0)
            {
                throw Invalid(text, $"'{word}' is not key=value");
            }
            pairs.Add(Key(text, word[..equals]));
            pairs.Add(word[(equals + 1)..]);
        }
        return pairs;
    }

    private static string Key(string text, string key) =>
        key.Length == 0 || key.Any(char.IsWhiteSpace) ? throw Invalid(text, $"'{key}' is not a valid key") : key;

    private static string Single(string text, string rest)
    {
        var words = Words(text, rest);
        return words.Count == 1 ? words[0] : throw Invalid(text, "it takes one argument");
    }

    private static string Port(string text, string word)
    {
        var slash = word.IndexOf('/');
        var number = slash < 0 ? word : word[..slash];
        var protocol = slash < 0 ? "tcp" : word[(slash + 1)..].ToLowerInvariant();
        if (!ushort.TryParse(number, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) ||
            port == 0 || protocol is not ("tcp" or "udp" or "sctp"))
        {
            throw Invalid(text, $"'{word}' is not a port (1-65535, optionally /tcp, /udp or /sctp)");
        }
        return $"{port}/{protocol}";
    }

    /// <summary>Words split at unquoted blanks; double quotes (with backslash escapes) and single quotes group, as in a Dockerfile.</summary>
    internal static List<string> Words(string text, string rest)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < rest.Length; i++)
        {
            var c = rest[i];
            if (quote == '\0' && char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
                continue;
            }
            inWord = true;
            if (c == '\\' && quote != '\'' && i + 1 < rest.Length)
            {
                word.Append(rest[++i]);
            }
            else if (quote == '\0' && c is '"' or '\'')
            {
                quote = c;
            }
            else if (c == quote)
            {
                quote = '\0';
            }
            else
            {
                word.Append(c);
            }
        }
        if (quote != '\0')
        {
            throw Invalid(text, $"a {quote} quote is not closed");
        }
        if (inWord)
        {
            words.Add(word.ToString());
        }
        return words;
    }

    private static string Unquote(string text, string value, bool keepSpaces) =>
        keepSpaces && !value.Contains('"') && !value.Contains('\'') && !value.Contains('\\') ? value : string.Join(' ', Words(text, value));

    private static BerthException Invalid(string change, string why) => BerthException.InvalidArgument($"--change '{change}': {why}");
}
