using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Berth.ImageService.Registry;

/// <summary>
/// An image reference normalised the way Docker and containerd do it ("busybox" is
/// docker.io/library/busybox:latest), following the grammar of distribution/reference.
/// </summary>
/// <param name="Domain">Registry host with an optional port, e.g. "docker.io", "localhost:5000", "[::1]:5000".</param>
/// <param name="Path">Repository path inside the registry, e.g. "library/busybox".</param>
/// <param name="Tag">The tag; "latest" when the text named neither tag nor digest.</param>
/// <param name="Digest">The digest when the text named one; a reference with both keeps both and is pulled by digest.</param>
public sealed partial record ImageReference(string Domain, string Path, string? Tag, string? Digest)
{
    public const string DockerHubDomain = "docker.io";
    private const string LegacyDockerHubDomain = "index.docker.io";
    private const string OfficialRepositoryPrefix = "library/";
    private const string DefaultTag = "latest";
    private const int MaxNameLength = 255;

    /// <summary>Domain and path, e.g. "docker.io/library/busybox".</summary>
    public string Repository => $"{Domain}/{Path}";

    public override string ToString() =>
        Repository + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    public static ImageReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var (reference, error) = ParseOrExplain(text);
        return reference ?? throw new ImageReferenceException($"invalid image reference \"{text}\": {error}");
    }

    public static bool TryParse(string? text, [NotNullWhen(true)] out ImageReference? reference)
    {
        reference = text is null ? null : ParseOrExplain(text).Reference;
        return reference is not null;
    }

    private static (ImageReference? Reference, string? Error) ParseOrExplain(string text)
    {
        if (text.Length == 0)
        {
            return (null, "it is empty");
        }
        if (text.Any(char.IsWhiteSpace))
        {
            return (null, "it contains whitespace");
        }

        var name = text;
        string? digest = null;
        var at = text.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = text[(at + 1)..];
            name = text[..at];
            if (ExplainBadDigest(digest) is { } digestError)
            {
                return (null, digestError);
            }
        }

        string? tag = null;
        var colon = name.LastIndexOf(':');
        if (colon > name.LastIndexOf('/'))
        {
            tag = name[(colon + 1)..];
            name = name[..colon];
            if (!TagPattern().IsMatch(tag))
            {
                return (null, tag.Length == 0
                    ? "the tag after ':' is empty"
                    : $"tag \"{tag}\" is invalid: a tag is 1 to 128 of A-Z a-z 0-9 _ . - and does not start with '.' or '-'");
            }
        }

        if (name.Length == 0)
        {
            return (null, "the repository name is empty");
        }
        if (HexIdentifierPattern().IsMatch(name))
        {
            return (null, "a repository name cannot be a 64-character hexadecimal string (an image ID is not a reference)");
        }

        var (domain, path) = SplitDomain(name);
        if (!DomainPattern().IsMatch(domain))
        {
            return (null, $"registry host \"{domain}\" is invalid");
        }
        if (path.Length == 0)
        {
            return (null, "the repository path after the registry host is empty");
        }
        if (path.Any(char.IsAsciiLetterUpper))
        {
            return (null, $"repository name \"{path}\" must be lowercase");
        }
        foreach (var component in path.Split('/'))
        {
            if (component.Length == 0)
            {
                return (null, $"repository path \"{path}\" has an empty component");
            }
            if (!PathComponentPattern().IsMatch(component))
            {
                return (null, $"repository path component \"{component}\" is invalid: it must be lowercase letters and digits, " +
                    "separated by a single '.' or '_', a double '_', or dashes");
            }
        }
        if (domain.Length + 1 + path.Length > MaxNameLength)
        {
            return (null, $"the repository name is longer than {MaxNameLength} characters");
        }

        return (new ImageReference(domain, path, tag ?? (digest is null ? DefaultTag : null), digest), null);
    }

    // Docker's rule: the first component is a registry host only when it looks like one
    // (has a dot or a port, or is localhost, or has uppercase, which no repository path may have).
    private static (string Domain, string Path) SplitDomain(string name)
    {
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? "" : name[..slash];
        var (domain, path) = slash < 0 || (first.IndexOfAny(['.', ':']) < 0 && first != "localhost" && !first.Any(char.IsAsciiLetterUpper))
            ? (DockerHubDomain, name)
            : (first, name[(slash + 1)..]);
        if (domain == LegacyDockerHubDomain)
        {
            domain = DockerHubDomain;
        }
        if (domain == DockerHubDomain && path.Length > 0 && !path.Contains('/', StringComparison.Ordinal))
        {
            path = OfficialRepositoryPrefix + path;
        }
        return (domain, path);
    }

    private static string? ExplainBadDigest(string digest)
    {
        if (digest.Length == 0)
        {
            return "the digest after '@' is empty";
        }
        var colon = digest.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return $"digest \"{digest}\" is not of the form algorithm:hex";
        }
        var algorithm = digest[..colon];
        var hex = digest[(colon + 1)..];
        var expectedLength = algorithm switch
        {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => 0,
        };
        if (expectedLength == 0)
        {
            return $"digest algorithm \"{algorithm}\" is not supported (sha256, sha384 and sha512 are)";
        }
        return hex.Length == expectedLength && hex.All(char.IsAsciiHexDigitLower)
            ? null
            : $"a {algorithm} digest has exactly {expectedLength} lowercase hexadecimal characters, not \"{hex}\"";
    }

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex("^[a-f0-9]{64}$")]
    private static partial Regex HexIdentifierPattern();

    [GeneratedRegex("^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")]
    private static partial Regex PathComponentPattern();

    // Host names (uppercase allowed, as DNS is case-insensitive) or a bracketed IPv6 literal, then an optional port.
    [GeneratedRegex(@"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$")]
    private static partial Regex DomainPattern();
}
