namespace Berth.RuntimeService.Specs;

/// <summary>Lexical path rules for paths inside a container and on the host (no file system access).</summary>
internal static class SpecPaths
{
    public static bool IsAbsolute(string path) => path.StartsWith('/');

    /// <summary>
    /// The shortest lexically equal absolute path, as Go's filepath.Clean: no empty or "." elements,
    /// ".." resolved, no trailing slash. Comparisons of mount destinations go through it so that
    /// "/etc//hosts/" overrides "/etc/hosts" like containerd's.
    /// </summary>
    public static string Clean(string absolutePath)
    {
        var parts = new List<string>();
        foreach (string part in absolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
            {
                continue;
            }
            if (part == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }
                continue;
            }
            parts.Add(part);
        }
        return "/" + string.Join('/', parts);
    }

    /// <summary>
    /// <paramref name="relative"/> joined under <paramref name="directory"/> lexically, as Go's
    /// filepath.Join that containerd uses (a leading "/" does not restart at the root); the result must lie
    /// strictly inside the directory, so ".." that climbs out is refused with <see cref="SpecException"/>
    /// naming <paramref name="what"/>.
    /// </summary>
    public static string JoinBeneath(string directory, string relative, string what)
    {
        string root = Clean(directory);
        string joined = Clean(root + "/" + relative);
        if (!joined.StartsWith(root == "/" ? "/" : root + "/", StringComparison.Ordinal) || joined == root)
        {
            throw new SpecException($"{what} \"{relative}\" does not name a file inside {directory}");
        }
        return joined;
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
        return Clean(path);
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
