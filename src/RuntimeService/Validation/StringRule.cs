using System.Buffers;
using System.Text;

namespace Berth.RuntimeService.Validation;

/// <summary>Which characters a string may hold. No class admits NUL: the kernel would cut the string there.</summary>
public enum Characters
{
    /// <summary>Anything but NUL.</summary>
    Any,

    /// <summary>No control character (C0, DEL, C1): the value becomes one line of a file (resolv.conf, a procfs write).</summary>
    SingleLine,

    /// <summary>Printable ASCII without space, '!' to '~': IDs, names, references, words of a generated file.</summary>
    Token,

    /// <summary>Printable ASCII, space included, but no '=': Kubernetes' relaxed environment variable name (IsRelaxedEnvVarName).</summary>
    EnvironmentName,

    /// <summary>Only 'r', 'w' and 'm': a device cgroup access string.</summary>
    DeviceAccess,
}

/// <summary>What a path-valued string must look like, judged lexically (no file system access).</summary>
public enum PathForm
{
    /// <summary>Not a path, or a path of any form.</summary>
    None,

    /// <summary>Starts with '/': a relative one would be resolved in berthd's working directory.</summary>
    Absolute,

    /// <summary>
    /// Relative to a base directory, naming something strictly inside it: ".." may not climb above the
    /// base, and the path may not end at the base itself.
    /// </summary>
    Beneath,

    /// <summary>Relative with no ".." element at all (Kubernetes' validateLocalDescendingPath).</summary>
    Descending,

    /// <summary>Absolute or relative, but with no ".." element.</summary>
    NoParent,

    /// <summary>One name of a directory's entries: no '/', not "." or "..".</summary>
    FileName,
}

/// <summary>
/// The checks on one string (or bytes) value of a request: a length cap in UTF-8 bytes (what the wire,
/// the kernel and Kubernetes count), a character class and a path form. Empty values always pass:
/// proto3 cannot tell empty from unset, so whether a field is required is the handler's business.
/// </summary>
/// <param name="MaxBytes">The longest value allowed, in UTF-8 bytes.</param>
/// <param name="Characters">The characters allowed.</param>
/// <param name="Path">The path form required.</param>
/// <param name="Base">For <see cref="PathForm.Beneath"/>: what the path is relative to, as the error names it.</param>
public sealed record StringRule(int MaxBytes, Characters Characters = Characters.Any, PathForm Path = PathForm.None, string? Base = null)
{
    // C0, DEL and C1 controls.
    private static readonly SearchValues<char> s_controls = SearchValues.Create(
        string.Concat(Enumerable.Range(0, 0x20).Concat(Enumerable.Range(0x7F, 0x21)).Select(code => (char)code)));

    // Sets of what is allowed: ContainsAnyExcept over SearchValues is vectorized and, unlike
    // ContainsAnyExceptInRange, allocates nothing.
    private static readonly SearchValues<char> s_token = SearchValues.Create(Ascii('!', '~'));

    private static readonly SearchValues<char> s_environmentName = SearchValues.Create(Ascii(' ', '~').Replace("=", ""));

    private static readonly SearchValues<char> s_deviceAccess = SearchValues.Create("rwm");

    /// <summary>What is wrong with <paramref name="value"/>, as a predicate on the field ("must ..."), or null when it passes.</summary>
    public string? Check(string value)
    {
        if (value.Length == 0)
        {
            return null;
        }
        // Cheap before linear: a string of more chars than the cap has more bytes too, and one of at
        // most a third of the cap cannot have more (UTF-8 takes at most 3 bytes per UTF-16 char).
        if (value.Length > MaxBytes || (value.Length > MaxBytes / 3 && Encoding.UTF8.GetByteCount(value) > MaxBytes))
        {
            return $"must be at most {MaxBytes} bytes long, not {Encoding.UTF8.GetByteCount(value)}";
        }
        var span = value.AsSpan();
        int nul = span.IndexOf('\0');
        if (nul >= 0)
        {
            return NulProblem(nul);
        }
        return CharacterProblem(span) ?? PathProblem(span);
    }

    /// <summary>The same for a bytes field that becomes a string (an environment value): length and NUL only.</summary>
    public string? Check(ReadOnlySpan<byte> value)
    {
        if (value.Length > MaxBytes)
        {
            return $"must be at most {MaxBytes} bytes long, not {value.Length}";
        }
        int nul = value.IndexOf((byte)0);
        return nul >= 0 ? NulProblem(nul) : null;
    }

    private static string Ascii(char first, char last) =>
        string.Concat(Enumerable.Range(first, last - first + 1).Select(code => (char)code));

    private static string NulProblem(int offset) => $"must not contain a NUL character (one is at offset {offset})";

    private string? CharacterProblem(ReadOnlySpan<char> value) => Characters switch
    {
        Characters.SingleLine when value.ContainsAny(s_controls) => "must not contain control characters such as a newline",
        Characters.Token when value.ContainsAnyExcept(s_token) => "must be printable ASCII without spaces",
        Characters.EnvironmentName when value.ContainsAnyExcept(s_environmentName) =>
            "must be printable ASCII without '='",
        Characters.DeviceAccess when value.ContainsAnyExcept(s_deviceAccess) => "must be made of the letters r, w and m",
        _ => null,
    };

    private string? PathProblem(ReadOnlySpan<char> value)
    {
        switch (Path)
        {
            case PathForm.Absolute when value[0] != '/':
                return "must be an absolute path";
            case PathForm.Beneath when value[0] == '/':
                return $"must be a path relative to {Base}, not an absolute one";
            case PathForm.Beneath:
                int depth = LexicalPath.Depth(value);
                return depth < 0 ? $"must stay inside {Base}, but its \"..\" climbs out"
                    : depth == 0 ? $"must name a file inside {Base}, not {Base} itself"
                    : null;
            case PathForm.Descending when value[0] == '/':
                return "must be a relative path";
            case PathForm.Descending or PathForm.NoParent when LexicalPath.HasParentElement(value):
                return "must not contain a \"..\" element";
            case PathForm.FileName when value.Contains('/') || value is "." or "..":
                return "must be a single file name (no '/', not \".\" or \"..\")";
            default:
                return null;
        }
    }
}
