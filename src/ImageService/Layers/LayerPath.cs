namespace Berth.ImageService.Layers;

/// <summary>
/// A tar member name made relative and clean: "./" prefixes, empty and "." components dropped, ".." folded
/// lexically. The kernel never sees a ".." from an entry: what reaches openat2 is a plain downward path.
/// </summary>
internal sealed record LayerPath(string Parent, string Name)
{
    /// <summary>The layer root itself ("./" or "."), which has no parent and no name.</summary>
    public static readonly LayerPath Root = new(string.Empty, string.Empty);

    public bool IsRoot => Name.Length == 0;

    /// <summary>The whole path, "parent/name", relative to the layer root.</summary>
    public string FullPath => Parent.Length == 0 ? Name : $"{Parent}/{Name}";

    /// <summary>
    /// Cleans <paramref name="name"/>; <paramref name="entry"/> and <paramref name="role"/> only word the error.
    /// Throws <see cref="UnsafeLayerException"/> for an absolute name or one whose ".." climbs above the root.
    /// </summary>
    public static LayerPath Parse(string name, string entry, string role = "entry")
    {
        if (name.Length == 0)
        {
            throw new InvalidLayerException($"{role} of entry '{entry}' has an empty name");
        }
        if (name[0] == '/')
        {
            throw new UnsafeLayerException($"{role} '{name}' of entry '{entry}' is an absolute path");
        }
        if (name.Contains('\0'))
        {
            throw new InvalidLayerException($"{role} of entry '{entry}' contains a NUL byte");
        }

        var components = new List<string>();
        foreach (string component in name.Split('/'))
        {
            switch (component)
            {
                case "":
                case ".":
                    break;
                case "..":
                    if (components.Count == 0)
                    {
                        throw new UnsafeLayerException(role == "entry"
                            ? $"entry '{entry}' escapes the layer"
                            : $"{role} '{name}' of entry '{entry}' escapes the layer");
                    }
                    components.RemoveAt(components.Count - 1);
                    break;
                default:
                    components.Add(component);
                    break;
            }
        }

        return components.Count switch
        {
            0 => Root,
            1 => new LayerPath(string.Empty, components[0]),
            _ => new LayerPath(string.Join('/', components[..^1]), components[^1]),
        };
    }
}
