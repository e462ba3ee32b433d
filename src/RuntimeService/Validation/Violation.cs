using Berth.Core.Errors;

namespace Berth.RuntimeService.Validation;

/// <summary>
/// A refused value found while walking a request: what is wrong, the value as shown (null for a
/// field marked debug_redact), and its path, gathered leaf first as the walk unwinds, so the success
/// path builds no path at all.
/// </summary>
internal sealed class Violation(string problem, string? shown, bool isKey = false)
{
    private readonly List<string> _segments = new(4);

    /// <summary>Adds the field (or element) that holds what was refused so far.</summary>
    public Violation Within(string segment)
    {
        _segments.Add(segment);
        return this;
    }

    /// <summary>The field path in the request, e.g. config.mounts[2].host_path.</summary>
    public string Path => string.Join('.', Enumerable.Reverse(_segments));

    /// <summary>The error: the path, "keys" when a map key was refused, the problem, and the shown value.</summary>
    public BerthException ToException() => BerthException.InvalidArgument(
        $"{Path}{(isKey ? " keys" : "")} {problem}{(shown is null ? " (value not shown)" : ": " + shown)}");
}
