namespace Berth.RuntimeService.Validation;

/// <summary>
/// Slash-separated paths judged by their text alone, with Go's path/filepath semantics on Linux
/// (what containerd applies to the same CRI fields), so a path means here what it means there.
/// </summary>
internal static class LexicalPath
{
    /// <summary>
    /// How many directories below its start a relative path ends, reading "" and "." as staying and
    /// ".." as going up; -1 as soon as ".." climbs above the start. A leading '/' counts as nothing,
    /// as it does when Go's filepath.Join puts the path under a directory.
    /// </summary>
    public static int Depth(ReadOnlySpan<char> path)
    {
        int depth = 0;
        foreach (var range in path.Split('/'))
        {
            var element = path[range];
            if (element is "..")
            {
                if (--depth < 0)
                {
                    return -1;
                }
            }
            else if (element is not ("" or "."))
            {
                depth++;
            }
        }
        return depth;
    }

    /// <summary>Whether any element of the path is "..".</summary>
    public static bool HasParentElement(ReadOnlySpan<char> path)
    {
        foreach (var range in path.Split('/'))
        {
            if (path[range] is "..")
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// The shortest path lexically equal to <paramref name="path"/>, as Go's filepath.Clean: repeated
    /// slashes folded, "." elements dropped, ".." applied to the element before it (and dropped at the
    /// root of an absolute path), no trailing slash; "." for an empty result.
    /// </summary>
    public static string Clean(string path)
    {
        if (path.Length == 0)
        {
            return ".";
        }
        bool rooted = path[0] == '/';
        // Cleaning never lengthens a path, so the input's length bounds the output's.
        var output = path.Length <= 1024 ? stackalloc char[path.Length] : new char[path.Length];
        int written = 0;
        // Where ".." can no longer remove an element: after the root, or after leading ".." of a relative path.
        int floor = 0;
        if (rooted)
        {
            output[written++] = '/';
            floor = 1;
        }
        int read = rooted ? 1 : 0;
        while (read < path.Length)
        {
            int end = path.IndexOf('/', read);
            if (end < 0)
            {
                end = path.Length;
            }
            var element = path.AsSpan(read, end - read);
            read = end + 1;
            if (element is "" or ".")
            {
                continue;
            }
            if (element is "..")
            {
                if (written > floor)
                {
                    written--;
                    while (written > floor && output[written] != '/')
                    {
                        written--;
                    }
                }
                else if (!rooted)
                {
                    if (written > 0)
                    {
                        output[written++] = '/';
                    }
                    output[written++] = '.';
                    output[written++] = '.';
                    floor = written;
                }
                continue;
            }
            if (written > (rooted ? 1 : 0))
            {
                output[written++] = '/';
            }
            element.CopyTo(output[written..]);
            written += element.Length;
        }
        return written == 0 ? "." : new string(output[..written]);
    }
}
