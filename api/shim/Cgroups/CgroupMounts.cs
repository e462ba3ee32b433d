using System.Text;
using System.Text.Json.Serialization;

namespace Berth.Api.Shim.Cgroups;

/// <summary>
/// One cgroup file system mount from /proc/self/mountinfo. <see cref="Device"/> (major:minor) names
/// the hierarchy: the same hierarchy mounted twice has the same device.
/// </summary>
public sealed record CgroupMount(string MountPoint, string Type, string Root, string Device, string SuperOptions)
{
    [JsonIgnore]
    public bool IsV1 => Type == "cgroup";

    [JsonIgnore]
    public bool IsV2 => Type == "cgroup2";

    /// <summary>The v1 controllers (and <c>name=</c> of a named hierarchy) this mount carries, from its super options.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Controllers { get; } = ParseControllers(Type, SuperOptions);

    private static string[] ParseControllers(string type, string superOptions)
    {
        if (type != "cgroup")
        {
            return [];
        }
        var controllers = new List<string>();
        foreach (string option in superOptions.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            // Super options mix the controllers with mount options; these are the generic ones.
            if (option is "rw" or "ro" or "noprefix" or "xattr" or "clone_children" or "cpuset_v2_mode" or "all" or "none"
                || option.StartsWith("release_agent=", StringComparison.Ordinal))
            {
                continue;
            }
            controllers.Add(option);
        }
        return [.. controllers];
    }
}

/// <summary>The cgroup mounts of a mount namespace, from its mountinfo.</summary>
public static class CgroupMounts
{
    /// <summary>This process's mount table.</summary>
    public const string MountInfo = "/proc/self/mountinfo";

    /// <summary>
    /// Parses mountinfo text: <c>id parent major:minor root mountpoint options [optional...] - fstype source superoptions</c>;
    /// keeps the cgroup and cgroup2 mounts.
    /// </summary>
    public static List<CgroupMount> Parse(string mountinfo)
    {
        var mounts = new List<CgroupMount>();
        foreach (string line in mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int separator = line.IndexOf(" - ", StringComparison.Ordinal);
            if (separator < 0)
            {
                continue;
            }
            string[] head = line[..separator].Split(' ');
            string[] tail = line[(separator + 3)..].Split(' ');
            if (head.Length < 5 || tail.Length < 3 || tail[0] is not ("cgroup" or "cgroup2"))
            {
                continue;
            }
            mounts.Add(new CgroupMount(Unescape(head[4]), tail[0], Unescape(head[3]), head[2], tail[2]));
        }
        return mounts;
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo octal; this undoes it for any of its path fields.</summary>
    public static string Unescape(string field)
    {
        if (!field.Contains('\\'))
        {
            return field;
        }
        var text = new StringBuilder(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length
                && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                text.Append((char)(((field[i + 1] - '0') << 6) | ((field[i + 2] - '0') << 3) | (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }
        return text.ToString();
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
