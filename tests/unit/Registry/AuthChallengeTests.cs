using Berth.ImageService.Registry;

namespace Berth.Tests.Unit.Registry;

public sealed class AuthChallengeTests
{
    [Fact]
    public void ParsesDockerHubBearerChallenge()
    {
        var challenge = Assert.Single(AuthChallenge.Parse(
            "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\""));

        Assert.True(challenge.Is(AuthChallenge.Bearer));
        Assert.Equal("https://auth.docker.io/token", challenge["realm"]);
        Assert.Equal("registry.docker.io", challenge["service"]);
        Assert.Equal("repository:library/busybox:pull", challenge["scope"]);
    }

    [Fact]
    public void KeepsCommasInsideQuotedValues()
    {
        var challenge = Assert.Single(AuthChallenge.Parse("Bearer realm=\"https://a/token\", scope=\"repository:a:pull,push\", error=\"insufficient_scope\""));

        Assert.Equal("repository:a:pull,push", challenge["scope"]);
        Assert.Equal("insufficient_scope", challenge["error"]);
    }

    [Fact]
    public void SplitsSeveralChallengesInOneHeader()
    {
        var challenges = AuthChallenge.Parse("Bearer realm=\"https://a/token\",service=\"reg\", Basic realm=\"Registry Realm\"");

        Assert.Equal(2, challenges.Count);
        Assert.True(challenges[0].Is(AuthChallenge.Bearer));
        Assert.Equal("reg", challenges[0]["service"]);
        Assert.True(challenges[1].Is(AuthChallenge.Basic));
        Assert.Equal("Registry Realm", challenges[1]["realm"]);
    }

    [Fact]
    public void ReadsUnquotedValuesSpacesAroundEqualsAndAnyCase()
    {
        var challenge = Assert.Single(AuthChallenge.Parse("bearer Realm = https://a.test/token , SERVICE=reg"));

        Assert.True(challenge.Is(AuthChallenge.Bearer));
        Assert.Equal("https://a.test/token", challenge["realm"]);
        Assert.Equal("reg", challenge["service"]);
    }

    [Fact]
    public void UnescapesQuotedPairs()
    {
        Assert.Equal("a \"quoted\" realm", Assert.Single(AuthChallenge.Parse("Basic realm=\"a \\\"quoted\\\" realm\""))["realm"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ,  ")]
    public void GivesNothingForAnEmptyHeader(string header) => Assert.Empty(AuthChallenge.Parse(header));

    [Fact]
    public void SurvivesMalformedInput()
    {
        var challenges = AuthChallenge.Parse("Bearer realm=\"unterminated, ==, \"");

        Assert.True(Assert.Single(challenges).Is(AuthChallenge.Bearer));
        Assert.NotEmpty(AuthChallenge.Parse("= Basic"));
    }
}
