using Berth.Api.Shim;
using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Containers;

/// <summary>
/// Turns user and group names into ids with the image's own /etc/passwd and /etc/group, as
/// containerd does: the names mean what they mean inside the image, not on the node.
/// </summary>
public static class UserResolver
{
    /// <param name="lowerDirs">The image's snapshot directories, top layer first.</param>
    public static OciSpec Resolve(ContainerSpec built, IReadOnlyList<string> lowerDirs)
    {
        var lookup = built.User;
        var spec = built.Spec;
        if (lookup.UserName is null && lookup.GroupName is null)
        {
            return spec;
        }
        var process = spec.Process ?? throw new SpecException("the spec has no process to set a user on");
        var user = process.User;
        if (lookup.UserName is { } userName)
        {
            var entry = Find(lowerDirs, "etc/passwd", userName)
                ?? throw new SpecException($"user '{userName}' is not in the image's /etc/passwd");
            user = user with { Uid = ParseId(entry, 2, "passwd", userName) };
            if (lookup.PrimaryGroupFromPasswd)
            {
                user = user with { Gid = ParseId(entry, 3, "passwd", userName) };
            }
        }
        if (lookup.GroupName is { } groupName)
        {
            var entry = Find(lowerDirs, "etc/group", groupName)
                ?? throw new SpecException($"group '{groupName}' is not in the image's /etc/group");
            user = user with { Gid = ParseId(entry, 2, "group", groupName) };
        }
        return spec with { Process = process with { User = user } };
    }

    /// <summary>The entry named <paramref name="name"/> in the topmost layer that has the file.</summary>
    private static string[]? Find(IReadOnlyList<string> lowerDirs, string file, string name)
    {
        var path = lowerDirs.Select(dir => Path.Combine(dir, file)).FirstOrDefault(File.Exists);
        return path is null
            ? null
            : File.ReadLines(path).Select(line => line.Split(':')).FirstOrDefault(fields => fields.Length >= 4 && fields[0] == name);
    }

    private static uint ParseId(string[] fields, int index, string file, string name) =>
        uint.TryParse(fields[index], out var id) ? id : throw new SpecException($"/etc/{file} entry of '{name}' has no numeric id");
}
