using System.Globalization;
using Berth.Api.Shim;

namespace Berth.Shim.Monitor;

/// <summary>A process's effective uid and gid and its supplementary groups, from the kernel's /proc/PID/status.</summary>
internal static class ProcessIdentity
{
    /// <summary>Reads /proc/<paramref name="pid"/>/status; null when it cannot be read (the process is gone) or lacks the fields.</summary>
    public static ProcessUser? Read(int pid)
    {
        try
        {
            return Parse(ShimFiles.ReadText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// The identity in a status text: the second (effective) field of the "Uid:" and "Gid:" lines, and
    /// every group of the "Groups:" line; null when the Uid or Gid line is missing or malformed.
    /// </summary>
    public static ProcessUser? Parse(string status)
    {
        uint? uid = null, gid = null;
        var user = new ProcessUser();
        foreach (string line in status.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon < 0)
            {
                continue;
            }
            string[] fields = line[(colon + 1)..].Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            switch (line[..colon])
            {
                case "Uid":
                    uid = Effective(fields);
                    break;
                case "Gid":
                    gid = Effective(fields);
                    break;
                case "Groups":
                    foreach (string field in fields)
                    {
                        if (uint.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out uint group))
                        {
                            user.Groups.Add(group);
                        }
                    }
                    break;
            }
        }
        if (uid is null || gid is null)
        {
            return null;
        }
        user.Uid = uid.Value;
        user.Gid = gid.Value;
        return user;
    }

    private static uint? Effective(string[] fields) =>
        fields.Length >= 2 && uint.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint id) ? id : null;
}
