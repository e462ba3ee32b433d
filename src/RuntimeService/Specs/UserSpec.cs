using System.Globalization;
using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.ImageService.Images;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// The container's user: the security context's run_as_user / run_as_username / run_as_group, else
/// the image's USER ("uid", "uid:gid", "name", "name:group"). Numeric ids go straight into the spec;
/// names are handed back as a <see cref="UserLookup"/> because only the container's /etc/passwd can
/// answer them.
/// </summary>
internal static class UserSpec
{
    // runc refuses ids above MaxInt32 (containerd's WithUser keeps the same bound).
    private const long MaxId = int.MaxValue;

    public static (OciUser User, UserLookup Lookup) Resolve(LinuxContainerSecurityContext? security, ImageConfig image)
    {
        string? user = null;
        string? group = null;
        if (security is not null)
        {
            if (security.RunAsUser is { } uid)
            {
                user = Id(uid.Value, "run_as_user").ToString(CultureInfo.InvariantCulture);
            }
            if (security.RunAsUsername.Length > 0)
            {
                user = security.RunAsUsername;
            }
            if (security.RunAsGroup is { } gid)
            {
                group = Id(gid.Value, "run_as_group").ToString(CultureInfo.InvariantCulture);
            }
        }
        if (group is not null && user is null)
        {
            // The CRI says the runtime MUST refuse run_as_group without run_as_user or run_as_username.
            throw new SpecException("run_as_group is set without run_as_user or run_as_username");
        }
        string source = "the security context's user";
        if (user is null)
        {
            source = "the image's USER";
            string imageUser = image.User ?? "";
            if (imageUser.Length > 0)
            {
                string[] parts = imageUser.Split(':');
                if (parts.Length > 2 || parts.Any(part => part.Length == 0))
                {
                    throw new SpecException($"the image's USER \"{imageUser}\" is not user, uid, user:group or uid:gid");
                }
                user = parts[0];
                group ??= parts.Length == 2 ? parts[1] : null;
            }
        }
        // No user anywhere: the runtime's default, root with gid 0, which containerd does not look up.
        bool lookUpPrimaryGroup = user is not null && group is null;
        user ??= "0";
        bool numericUser = IsNumber(user);
        bool numericGroup = group is not null && IsNumber(group);
        var spec = new OciUser
        {
            Uid = numericUser ? Numeric(user, source, "uid") : 0,
            Gid = numericGroup ? Numeric(group!, source, "gid") : 0,
            AdditionalGids = SupplementalGroups(security?.SupplementalGroups ?? []),
        };
        return (spec, new UserLookup(
            UserName: numericUser ? null : user,
            GroupName: group is not null && !numericGroup ? group : null,
            PrimaryGroupFromPasswd: lookUpPrimaryGroup,
            StrictGroups: GroupsPolicy(security) == SupplementalGroupsPolicy.Strict));
    }

    /// <summary>
    /// Merge (the default) adds the groups the image's /etc/group gives the user to the requested ones;
    /// Strict keeps only what the request names (KEP-3619). A policy this build does not know is refused,
    /// since guessing could give a process groups it was meant not to have.
    /// </summary>
    private static SupplementalGroupsPolicy GroupsPolicy(LinuxContainerSecurityContext? security) =>
        security?.SupplementalGroupsPolicy switch
        {
            null or SupplementalGroupsPolicy.Merge => SupplementalGroupsPolicy.Merge,
            SupplementalGroupsPolicy.Strict => SupplementalGroupsPolicy.Strict,
            var other => throw new SpecException($"supplemental_groups_policy {other} is not Merge or Strict"),
        };

    /// <summary>A uid or gid from the CRI: 0..MaxInt32.</summary>
    public static uint Id(long value, string field)
    {
        if (value < 0 || value > MaxId)
        {
            throw new SpecException($"{field} {value} is out of range (0..{MaxId})");
        }
        return (uint)value;
    }

    /// <summary>supplemental_groups as additionalGids: sorted and without duplicates, as containerd merges them.</summary>
    public static IReadOnlyList<uint>? SupplementalGroups(IEnumerable<long> groups)
    {
        var gids = new SortedSet<uint>();
        foreach (long group in groups)
        {
            gids.Add(Id(group, "supplemental group"));
        }
        return gids.Count == 0 ? null : gids.ToList();
    }

    private static bool IsNumber(string text) => text.All(char.IsAsciiDigit);

    private static uint Numeric(string text, string source, string what)
    {
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || value > MaxId)
        {
            throw new SpecException($"{source} has {what} {text}, which is out of range (0..{MaxId})");
        }
        return (uint)value;
    }
}
