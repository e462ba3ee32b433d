using Berth.Api.Shim;
using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Containers;

/// <summary>
/// Completes the container's user with the image's own /etc/passwd and /etc/group, as containerd
/// does: names become ids, a user given without a group gets its primary group from /etc/passwd, and
/// the groups that list the user in /etc/group join its supplementary groups. Names mean what they
/// mean inside the image, not on the node.
/// </summary>
public static class UserResolver
{
    /// <param name="lowerDirs">The image's snapshot directories, top layer first.</param>
    public static OciSpec Resolve(ContainerSpec built, IReadOnlyList<string> lowerDirs)
    {
        var lookup = built.User;
        var spec = built.Spec;
        var process = spec.Process ?? throw new SpecException("the spec has no process to set a user on");
        var user = process.User;
        var passwd = Entries(lowerDirs, "etc/passwd");
        string[]? account;
        if (lookup.UserName is { } userName)
        {
            account = passwd.FirstOrDefault(fields => fields[0] == userName)
                ?? throw new SpecException($"user '{userName}' is not in the image's /etc/passwd");
            user = user with { Uid = ParseId(account, 2, "passwd", userName) };
        }
        else
        {
            account = passwd.FirstOrDefault(fields => uint.TryParse(fields[2], out var uid) && uid == user.Uid);
        }
        if (lookup.PrimaryGroupFromPasswd && account is not null)
        {
            user = user with { Gid = ParseId(account, 3, "passwd", account[0]) };
        }
        var groups = Entries(lowerDirs, "etc/group");
        if (lookup.GroupName is { } groupName)
        {
            var group = groups.FirstOrDefault(fields => fields[0] == groupName)
                ?? throw new SpecException($"group '{groupName}' is not in the image's /etc/group");
            user = user with { Gid = ParseId(group, 2, "group", groupName) };
        }
        if (account is not null)
        {
            var memberOf = groups
                .Where(fields => fields.Length >= 4 && fields[3].Split(',').Contains(account[0]))
                .Select(fields => uint.TryParse(fields[2], out var gid) ? gid : (uint?)null)
                .OfType<uint>();
            var additional = (user.AdditionalGids ?? []).Concat(memberOf).Distinct().Order().ToList();
            user = user with { AdditionalGids = additional.Count > 0 ? additional : null };
        }
        return spec with { Process = process with { User = user } };
    }

    /// <summary>The colon-separated entries of a file in the topmost layer that has it; none when no layer has it.</summary>
    private static List<string[]> Entries(IReadOnlyList<string> lowerDirs, string file)
    {
        var path = lowerDirs.Select(dir => Path.Combine(dir, file)).FirstOrDefault(File.Exists);
        return path is null
            ? []
            : File.ReadLines(path).Select(line => line.Split(':')).Where(fields => fields.Length >= 3).ToList();
    }

    private static uint ParseId(string[] fields, int index, string file, string name) =>
        fields.Length > index && uint.TryParse(fields[index], out var id)
            ? id
            : throw new SpecException($"/etc/{file} entry of '{name}' has no numeric id");
}
