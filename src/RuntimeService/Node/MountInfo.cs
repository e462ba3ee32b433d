namespace Berth.RuntimeService.Node;

/// <summary>How a mount passes mount events on (its peer group), from the optional fields of /proc/self/mountinfo.</summary>
public enum MountSharing
{
    /// <summary>Neither shared nor a slave: events neither arrive nor leave.</summary>
    Private,

    /// <summary><c>master:N</c> without <c>shared:</c>: events arrive from the master's peer group, none leave.</summary>
    Slave,

    /// <summary><c>shared:N</c> (possibly also <c>master:M</c>): events propagate to and from its peer group.</summary>
    Shared,
}

/// <summary>The mount a path lives on: its mount point and how it propagates.</summary>
public sealed record SourceMount(string MountPoint, MountSharing Sharing);

/// <summary>
/// Reads /proc/self/mountinfo (proc(5): "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw"):
/// the mount point is field 5, octal-escaped; the optional fields run from field 7 to the lone "-".
/// containerd's ensureShared / ensureSharedOrSlave read the same fields (moby/sys/mountinfo).
/// </summary>
public static class MountInfo
{
    /// <summary>
    /// The mount <paramref name="path"/> (absolute, symbolic links already resolved) lives on: the deepest
    /// mount point that is the path or one of its parents, and of several stacked there the last listed
    /// (the one on top). Null when no line covers it (a mountinfo without "/").
    /// </summary>
    public static SourceMount? Of(string mountinfo, string path)
    {
        SourceMount? best = null;
        foreach (string line in mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] fields = line.Split(' ');
            int separator = Array.IndexOf(fields, "-", 6);
            if (fields.Length < 7 || separator < 0)
            {
                continue;
            }
            string mountPoint = Unescape(fields[4]);
            if (!Covers(mountPoint, path) || (best is not null && mountPoint.Length < best.MountPoint.Length))
            {
                continue;
            }
            var optional = fields[6..separator];
            var sharing = optional.Any(field => field.StartsWith("shared:", StringComparison.Ordinal)) ? MountSharing.Shared
                : optional.Any(field => field.StartsWith("master:", StringComparison.Ordinal)) ? MountSharing.Slave
                : MountSharing.Private;
            best = new SourceMount(mountPoint, sharing);
        }
        return best;
    }

    private static bool Covers(string mountPoint, string path) =>
        mountPoint == "/" || path == mountPoint || path.StartsWith(mountPoint + "/", StringComparison.Ordinal);

    /// <summary>The kernel writes space, tab, newline and backslash in a path as \040, \011, \012 and \134.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\'))
        {
            return field;
        }
        var text = new System.Text.StringBuilder(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length
                && field[(i + 1)..(i + 4)].All(digit => digit is >= '0' and <= '7'))
            {
                text.Append((char)Convert.ToInt32(field[(i + 1)..(i + 4)], 8));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }
        return text.ToString();
    }
}
