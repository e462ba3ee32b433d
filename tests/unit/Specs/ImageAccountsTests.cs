using Berth.Api.Shim;
using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Specs;

namespace Berth.Tests.Unit.Specs;

public sealed class ImageAccountsTests : IDisposable
{
    private readonly DirectoryInfo _lower = Directory.CreateTempSubdirectory("berth-user-lower-");
    private readonly DirectoryInfo _upper = Directory.CreateTempSubdirectory("berth-user-upper-");

    public ImageAccountsTests()
    {
        Directory.CreateDirectory(Path.Combine(_lower.FullName, "etc"));
        File.WriteAllText(Path.Combine(_lower.FullName, "etc", "passwd"),
            "root:x:0:0:root:/root:/bin/sh\ndefault-user:x:1000:1000::/home:/bin/sh\npostgres:x:70:71::/var/lib/postgresql:/bin/sh\n");
        File.WriteAllText(Path.Combine(_lower.FullName, "etc", "group"),
            "root:x:0:\nusers:x:1000:\ndb:x:71:\nextra:x:50000:default-user,postgres\nother:x:600:someone\n");
    }

    public void Dispose()
    {
        _lower.Delete(recursive: true);
        _upper.Delete(recursive: true);
    }

    private OciUser Resolve(OciUser user, UserLookup lookup) =>
        new ImageAccounts(TopmostFile("etc/passwd"), TopmostFile("etc/group")).Resolve(user, lookup);

    private string? TopmostFile(string file) => ContainerImages.TopmostFile([_upper.FullName, _lower.FullName], file);

    [Fact]
    public void ANumericUserGetsItsPrimaryGroupAndImageGroupsLikeContainerd()
    {
        var user = Resolve(new OciUser { Uid = 1000, AdditionalGids = [1234] }, new UserLookup(null, null, PrimaryGroupFromPasswd: true));
        Assert.Equal((1000u, 1000u), (user.Uid, user.Gid));
        // The primary group leads the supplementary ones, as containerd's ensureAdditionalGids puts it.
        Assert.Equal([1000u, 1234u, 50000u], user.AdditionalGids);
    }

    [Fact]
    public void UnderTheStrictPolicyTheImagesGroupsAreNotAdded()
    {
        var user = Resolve(new OciUser { Uid = 1000, AdditionalGids = [1234] }, new UserLookup(null, null, PrimaryGroupFromPasswd: true, StrictGroups: true));
        Assert.Equal((1000u, 1000u), (user.Uid, user.Gid));
        Assert.Equal([1000u, 1234u], user.AdditionalGids);
    }

    [Fact]
    public void APrimaryGroupAmongTheRequestedOnesIsNotRepeated()
    {
        var user = Resolve(new OciUser { Uid = 1000, Gid = 1234, AdditionalGids = [1234, 2000] }, new UserLookup(null, null, false, StrictGroups: true));
        Assert.Equal([1234u, 2000u], user.AdditionalGids);
    }

    [Fact]
    public void ANameBecomesItsIds()
    {
        var user = Resolve(new OciUser(), new UserLookup("postgres", null, PrimaryGroupFromPasswd: true));
        Assert.Equal((70u, 71u), (user.Uid, user.Gid));
        Assert.Equal([71u, 50000u], user.AdditionalGids);
    }

    [Fact]
    public void AnExplicitGroupNameWins()
    {
        var user = Resolve(new OciUser(), new UserLookup("postgres", "users", PrimaryGroupFromPasswd: false));
        Assert.Equal((70u, 1000u), (user.Uid, user.Gid));
    }

    [Fact]
    public void AnUnknownUidKeepsGidZeroAndAnUnknownNameIsRefused()
    {
        Assert.Equal(0u, Resolve(new OciUser { Uid = 4242 }, new UserLookup(null, null, true)).Gid);
        Assert.Throws<SpecException>(() => Resolve(new OciUser(), new UserLookup("nobody-here", null, true)));
        Assert.Throws<SpecException>(() => Resolve(new OciUser(), new UserLookup(null, "no-group", false)));
    }

    [Fact]
    public void TheTopmostLayerWithTheFileIsRead()
    {
        Directory.CreateDirectory(Path.Combine(_upper.FullName, "etc"));
        File.WriteAllText(Path.Combine(_upper.FullName, "etc", "passwd"), "postgres:x:99:98::/:/bin/sh\n");
        var user = Resolve(new OciUser(), new UserLookup("postgres", null, PrimaryGroupFromPasswd: true));
        Assert.Equal((99u, 98u), (user.Uid, user.Gid));
    }
}
