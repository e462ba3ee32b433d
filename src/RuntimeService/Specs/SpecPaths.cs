using Berth.RuntimeService.Validation;

namespace Berth.RuntimeService.Specs;

/// <summary>Lexical path rules for paths inside a container and on the host (no file system access).</summary>
internal static class SpecPaths
{
    public static bool IsAbsolute(string path) => path.StartsWith('/');

    /// <summary>Each level of a path, outermost first, as absolute paths: /a/b gives /a and /a/b.</summary>
    public static IEnumerable<string> Levels(string path)
    {
        var level = new System.Text.StringBuilder();
        foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            level.Append('/').Append(part);
            yield return level.ToString();
        }
    }

    /// <summary>How deep a cleaned path is: "/" is 0, "/etc" 1, "/etc/hosts" 2.</summary>
    public static int Depth(string cleanPath) => cleanPath == "/" ? 0 : cleanPath.Count(c => c == '/');

    /// <summary>A container path: absolute, returned cleaned; <paramref name="what"/> names it in the error.</summary>
    public static string RequireContainerPath(string path, string what)
    {
        if (!IsAbsolute(path))
        {
            throw new SpecException($"{what} \"{path}\" is not an absolute path");
        }
        RequireNoNul(path, what);
        return LexicalPath.Clean(path);
    }

    /// <summary>A host path: absolute; kept as given (the daemon resolved or created it).</summary>
    public static string RequireHostPath(string path, string what)
    {
        if (!IsAbsolute(path))
        {
            throw new SpecException($"{what} \"{path}\" is not an absolute host path");
        }
        RequireNoNul(path, what);
        return path;
    }

    private static void RequireNoNul(string path, string what)
    {
        if (path.Contains('\0'))
        {
            throw new SpecException($"{what} contains a NUL character");
        }
    }
}
