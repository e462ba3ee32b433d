using Berth.Api.Shim;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// The image's own /etc/passwd and /etc/group (from the topmost layer that has each), parsed: user and
/// group names mean what they mean inside the image, not on the node.
/// </summary>
public sealed class ImageAccounts
{
    public static ImageAccounts None { get; } = new(null, null);

    private readonly List<string[]> _passwd;
    private readonly List<string[]> _groups;

    /// <param name="passwd">The text of the image's /etc/passwd; null when the image has none.</param>
    /// <param name="group">The text of the image's /etc/group; null when the image has none.</param>
    public ImageAccounts(string? passwd, string? group)
    {
        _passwd = Entries(passwd);
        _groups = Entries(group);
    }

    /// <summary>
    /// Completes the spec's user as containerd's WithUser and WithAdditionalGIDs do, in the order
    /// <see cref="UserLookup"/> gives: names become ids, a user given without a group gets its
    /// primary group from /etc/passwd, the groups that list the user join its supplementary groups
    /// (not under the Strict policy), and the primary group leads them.
    /// Throws <see cref="SpecException"/> for a name the image does not know.
    /// </summary>
    public OciUser Resolve(OciUser user, UserLookup lookup)
    {
        string[]? account;
        if (lookup.UserName is { } userName)
        {
            account = _passwd.FirstOrDefault(fields => fields[0] == userName)
                ?? throw new SpecException($"user '{userName}' is not in the image's /etc/passwd");
            user = user with { Uid = ParseId(account, 2, "passwd", userName) };
        }
        else
        {
            account = _passwd.FirstOrDefault(fields => uint.TryParse(fields[2], out var uid) && uid == user.Uid);
        }
        if (lookup.PrimaryGroupFromPasswd && account is not null)
        {
            user = user with { Gid = ParseId(account, 3, "passwd", account[0]) };
        }
        if (lookup.GroupName is { } groupName)
        {
            var group = _groups.FirstOrDefault(fields => fields[0] == groupName)
                ?? throw new SpecException($"group '{groupName}' is not in the image's /etc/group");
            user = user with { Gid = ParseId(group, 2, "group", groupName) };
        }
        var additional = (user.AdditionalGids ?? []).ToList();
        if (account is not null && !lookup.StrictGroups)
        {
            var memberOf = _groups
                .Where(fields => fields.Length >= 4 && fields[3].Split(',').Contains(account[0]))
                .Select(fields => uint.TryParse(fields[2], out var gid) ? gid : (uint?)null)
                .OfType<uint>();
            additional = additional.Concat(memberOf).Distinct().Order().ToList();
        }
        if (!additional.Contains(user.Gid))
        {
            additional.Insert(0, user.Gid);
        }
        return user with { AdditionalGids = additional };
    }

    /// <summary>The colon-separated entries of a passwd or group file with at least name, password and id.</summary>
    private static List<string[]> Entries(string? text) =>
        text is null ? [] : text.Split('\n').Select(line => line.Split(':')).Where(fields => fields.Length >= 3).ToList();

    private static uint ParseId(string[] fields, int index, string file, string name) =>
        fields.Length > index && uint.TryParse(fields[index], out var id)
            ? id
            : throw new SpecException($"/etc/{file} entry of '{name}' has no numeric id");
}
