using Berth.Api.Cri;
using Berth.ImageService.Images;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;

namespace Berth.Tests.Unit.Specs;

public sealed class ContainerUserTests
{
    private static ContainerSpec BuildWith(ImageConfig? image = null, Action<LinuxContainerSecurityContext>? security = null)
    {
        var container = Container();
        security?.Invoke(container.Linux.SecurityContext);
        return ContainerSpecBuilder.Build(Input(container, image: image ?? Image()));
    }

    [Fact]
    public void NoUserAnywhereIsRootWithoutLookup()
    {
        var result = BuildWith();
        Assert.Equal(0u, result.Spec.Process!.User.Uid);
        Assert.Equal(0u, result.Spec.Process.User.Gid);
        Assert.Equal(UserLookup.None, result.User);
    }

    [Fact]
    public void NumericImageUserGoesIntoTheSpecAndItsGroupComesFromPasswd()
    {
        var result = BuildWith(Image(user: "101"));
        Assert.Equal(101u, result.Spec.Process!.User.Uid);
        Assert.Equal(0u, result.Spec.Process.User.Gid);
        Assert.Equal(new UserLookup(null, null, PrimaryGroupFromPasswd: true), result.User);
    }

    [Fact]
    public void NumericImageUserAndGroupNeedNoLookup()
    {
        var result = BuildWith(Image(user: "101:102"));
        Assert.Equal(101u, result.Spec.Process!.User.Uid);
        Assert.Equal(102u, result.Spec.Process.User.Gid);
        Assert.Equal(UserLookup.None, result.User);
    }

    [Fact]
    public void ImageUserNameIsPassedOnForResolution()
    {
        var result = BuildWith(Image(user: "nginx"));
        Assert.Equal(new UserLookup("nginx", null, PrimaryGroupFromPasswd: true), result.User);
    }

    [Fact]
    public void ImageUserAndGroupNamesArePassedOnForResolution()
    {
        var result = BuildWith(Image(user: "nginx:www"));
        Assert.Equal(new UserLookup("nginx", "www", PrimaryGroupFromPasswd: false), result.User);
    }

    [Fact]
    public void MixedNameAndNumericGroupKeepsTheNumber()
    {
        var result = BuildWith(Image(user: "nginx:33"));
        Assert.Equal(33u, result.Spec.Process!.User.Gid);
        Assert.Equal(new UserLookup("nginx", null, PrimaryGroupFromPasswd: false), result.User);
    }

    [Theory]
    [InlineData("a:b:c")]
    [InlineData(":1")]
    [InlineData("1:")]
    [InlineData("99999999999")]
    public void MalformedImageUserIsRefused(string user)
    {
        Assert.Throws<SpecException>(() => BuildWith(Image(user: user)));
    }

    [Fact]
    public void RunAsUserOverridesTheImage()
    {
        var result = BuildWith(Image(user: "nginx:www"), security => security.RunAsUser = new Int64Value { Value = 1000 });
        Assert.Equal(1000u, result.Spec.Process!.User.Uid);
        Assert.Equal(new UserLookup(null, null, PrimaryGroupFromPasswd: true), result.User);
    }

    [Fact]
    public void RunAsUserAndGroup()
    {
        var result = BuildWith(security: security =>
        {
            security.RunAsUser = new Int64Value { Value = 1000 };
            security.RunAsGroup = new Int64Value { Value = 3000 };
        });
        Assert.Equal(1000u, result.Spec.Process!.User.Uid);
        Assert.Equal(3000u, result.Spec.Process.User.Gid);
        Assert.Equal(UserLookup.None, result.User);
    }

    [Fact]
    public void RunAsUsernameWinsOverRunAsUser()
    {
        var result = BuildWith(security: security =>
        {
            security.RunAsUser = new Int64Value { Value = 1000 };
            security.RunAsUsername = "postgres";
        });
        Assert.Equal(new UserLookup("postgres", null, PrimaryGroupFromPasswd: true), result.User);
    }

    [Fact]
    public void RunAsGroupWithoutAUserIsRefused()
    {
        var error = Assert.Throws<SpecException>(() =>
            BuildWith(Image(user: "101:101"), security => security.RunAsGroup = new Int64Value { Value = 2000 }));
        Assert.Contains("run_as_group", error.Message);
    }

    [Fact]
    public void NegativeRunAsUserIsRefused()
    {
        Assert.Throws<SpecException>(() => BuildWith(security: security => security.RunAsUser = new Int64Value { Value = -1 }));
    }

    [Fact]
    public void SupplementalGroupsBecomeSortedDistinctAdditionalGids()
    {
        var result = BuildWith(security: security => security.SupplementalGroups.AddRange([3000, 5, 3000, 44]));
        Assert.Equal([5u, 44u, 3000u], result.Spec.Process!.User.AdditionalGids);
    }

    [Theory]
    [InlineData(SupplementalGroupsPolicy.Merge, false)]
    [InlineData(SupplementalGroupsPolicy.Strict, true)]
    public void TheSupplementalGroupsPolicyDecidesWhetherTheImagesGroupsJoin(SupplementalGroupsPolicy policy, bool strict)
    {
        var result = BuildWith(Image(user: "101"), security => security.SupplementalGroupsPolicy = policy);
        Assert.Equal(new UserLookup(null, null, PrimaryGroupFromPasswd: true, StrictGroups: strict), result.User);
    }

    [Fact]
    public void AnUnknownSupplementalGroupsPolicyIsRefused()
    {
        var error = Assert.Throws<SpecException>(() => BuildWith(security: security => security.SupplementalGroupsPolicy = (SupplementalGroupsPolicy)7));
        Assert.Contains("supplemental_groups_policy", error.Message);
    }
}
