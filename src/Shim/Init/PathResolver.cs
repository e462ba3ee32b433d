namespace Berth.Shim.Init;

/// <summary>
/// Resolves paths inside a container root before pivot_root: every symbolic link met on the way is
/// followed as if <c>root</c> were "/", so a link in an image cannot point a mount outside the rootfs.
/// </summary>
internal static class PathResolver
{
    private const int MaxLinks = 255;

    /// <summary>
    /// Where a config.json mount goes: <paramref name="destination"/> (absolute) resolved inside
    /// <paramref name="root"/> by <see cref="SecureJoin"/>. A destination that resolves to the root
    /// itself ("/", or an image's link to "/" or "..") is refused: the OCI runtime spec's mounts go
    /// below the root, and a mount there would cover the whole container root with the host's path.
    /// </summary>
    /// <exception cref="InvalidSpecException">The destination is not absolute, or resolves to the root.</exception>
    public static string MountDestination(string root, string destination)
    {
        if (!destination.StartsWith('/'))
        {
            throw new InvalidSpecException($"mount destination {destination} is not absolute");
        }
        string resolved = SecureJoin(root, destination);
        if (resolved == root.TrimEnd('/'))
        {
            throw new InvalidSpecException($"mount destination {destination} resolves to the container's root directory");
        }
        return resolved;
    }

    /// <summary>The host path of <paramref name="path"/> inside <paramref name="root"/>, links resolved within it.</summary>
    /// <exception cref="ErrnoException">ELOOP: more than 255 links on the way.</exception>
    public static string SecureJoin(string root, string path)
    {
        root = root.TrimEnd('/');
        var parts = new List<string>();
        var pending = new Stack<string>();
        PushComponents(pending, path);
        int links = 0;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part is "" or ".")
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
            string candidate = root + "/" + string.Join('/', parts) + (parts.Count > 0 ? "/" : "") + part;
            string? target = null;
            try
            {
                target = Interop.Sys.TryReadLink(candidate);
            }
            catch (ErrnoException)
            {
                // Unreadable (EACCES): taken as it is, as a component that is no link.
            }
            if (target is null)
            {
                parts.Add(part);
                continue;
            }
            if (++links > MaxLinks)
            {
                throw new ErrnoException(Interop.Errno.ELOOP, "resolving", $"{path} in {root}");
            }
            if (target.StartsWith('/'))
            {
                parts.Clear();
            }
            PushComponents(pending, target);
        }
        return parts.Count == 0 ? root : root + "/" + string.Join('/', parts);
    }

    private static void PushComponents(Stack<string> stack, string path)
    {
        string[] components = path.Split('/');
        for (int i = components.Length - 1; i >= 0; i--)
        {
            stack.Push(components[i]);
        }
    }

    /// <summary>
    /// Finds a command the way execvp does: a name with a slash is used as it is; otherwise each
    /// directory of <paramref name="pathVariable"/> in turn, returning the first executable file.
    /// </summary>
    public static string? LookPath(string command, string? pathVariable, Func<string, bool> isExecutable)
    {
        if (command.Contains('/'))
        {
            return isExecutable(command) ? command : null;
        }
        pathVariable ??= "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        foreach (string directory in pathVariable.Split(':'))
        {
            string candidate = (directory.Length == 0 ? "." : directory) + "/" + command;
            if (isExecutable(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>The value of <paramref name="name"/> in a KEY=VALUE environment list (the last one wins).</summary>
    public static string? GetEnv(IReadOnlyList<string>? env, string name)
    {
        string? value = null;
        if (env is null)
        {
            return null;
        }
        foreach (string entry in env)
        {
            if (entry.Length > name.Length && entry[name.Length] == '=' && entry.StartsWith(name, StringComparison.Ordinal))
            {
                value = entry[(name.Length + 1)..];
            }
        }
        return value;
    }
}
