using Berth.ImageService.Registry;

namespace Berth.Tests.Unit.Registry;

public sealed class ImageReferenceTests
{
    private const string Sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Theory]
    [InlineData("busybox", "docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest")]
    [InlineData("busybox:1.36", "docker.io", "library/busybox", "1.36", null, "docker.io/library/busybox:1.36")]
    [InlineData("library/busybox", "docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest")]
    [InlineData("docker.io/busybox", "docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest")]
    [InlineData("index.docker.io/library/busybox:musl", "docker.io", "library/busybox", "musl", null, "docker.io/library/busybox:musl")]
    [InlineData("foo/bar", "docker.io", "foo/bar", "latest", null, "docker.io/foo/bar:latest")]
    [InlineData("registry.k8s.io/pause:3.10", "registry.k8s.io", "pause", "3.10", null, "registry.k8s.io/pause:3.10")]
    [InlineData("ghcr.io/org/team/app:1", "ghcr.io", "org/team/app", "1", null, "ghcr.io/org/team/app:1")]
    [InlineData("localhost/foo", "localhost", "foo", "latest", null, "localhost/foo:latest")]
    [InlineData("localhost:5000/foo/bar:v1", "localhost:5000", "foo/bar", "v1", null, "localhost:5000/foo/bar:v1")]
    [InlineData("127.0.0.1:5000/a", "127.0.0.1:5000", "a", "latest", null, "127.0.0.1:5000/a:latest")]
    [InlineData("[::1]:5000/a/b:t", "[::1]:5000", "a/b", "t", null, "[::1]:5000/a/b:t")]
    [InlineData("myreg:5443/team/app", "myreg:5443", "team/app", "latest", null, "myreg:5443/team/app:latest")]
    [InlineData("Registry.Example.com/app", "Registry.Example.com", "app", "latest", null, "Registry.Example.com/app:latest")]
    [InlineData("Upper/app", "Upper", "app", "latest", null, "Upper/app:latest")] // uppercase first component: a host, as Docker has it
    [InlineData("a.b/c-d__e.f_g---h:Tag_x.y-z", "a.b", "c-d__e.f_g---h", "Tag_x.y-z", null, "a.b/c-d__e.f_g---h:Tag_x.y-z")]
    [InlineData("localhost:5000", "docker.io", "library/localhost", "5000", null, "docker.io/library/localhost:5000")] // Docker's reading too
    [InlineData("busybox@" + Sha, "docker.io", "library/busybox", null, Sha, "docker.io/library/busybox@" + Sha)]
    [InlineData("busybox:1.36@" + Sha, "docker.io", "library/busybox", "1.36", Sha, "docker.io/library/busybox:1.36@" + Sha)]
    [InlineData("myreg:5443/app@" + Sha, "myreg:5443", "app", null, Sha, "myreg:5443/app@" + Sha)]
    public void ParsesAndNormalises(string text, string domain, string path, string? tag, string? digest, string normalised)
    {
        var reference = ImageReference.Parse(text);

        Assert.Equal(new ImageReference(domain, path, tag, digest), reference);
        Assert.Equal($"{domain}/{path}", reference.Repository);
        Assert.Equal(normalised, reference.ToString());
        Assert.Equal(reference, ImageReference.Parse(reference.ToString()));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("busy box", "whitespace")]
    [InlineData("Busybox", "repository name \"library/Busybox\" must be lowercase")]
    [InlineData("docker.io/Library/busybox", "must be lowercase")]
    [InlineData("busybox:", "the tag after ':' is empty")]
    [InlineData("busybox:-x", "tag \"-x\" is invalid")]
    [InlineData("busybox:a+b", "tag \"a+b\" is invalid")]
    [InlineData("busybox@", "the digest after '@' is empty")]
    [InlineData("busybox@sha256", "not of the form algorithm:hex")]
    [InlineData("busybox@md5:0123456789abcdef0123456789abcdef", "digest algorithm \"md5\" is not supported")]
    [InlineData("busybox@sha256:abc", "64 lowercase hexadecimal characters")]
    [InlineData("busybox@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "64 lowercase hexadecimal characters")]
    [InlineData("busybox@" + Sha + "@" + Sha, "64 lowercase hexadecimal characters")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "64-character hexadecimal string")]
    [InlineData(":tag", "the repository name is empty")]
    [InlineData("docker.io/", "repository path after the registry host is empty")]
    [InlineData("foo//bar", "has an empty component")]
    [InlineData("foo/bar/", "has an empty component")]
    [InlineData("-foo", "component \"-foo\" is invalid")]
    [InlineData("foo..bar", "component \"foo..bar\" is invalid")]
    [InlineData("foo/bar_", "component \"bar_\" is invalid")]
    [InlineData("my_host:5000/app", "registry host \"my_host:5000\" is invalid")]
    [InlineData("example.com:port/app", "registry host \"example.com:port\" is invalid")]
    [InlineData("-bad.example.com/app", "registry host \"-bad.example.com\" is invalid")]
    public void RefusesWithAMessageThatSaysWhy(string text, string expected)
    {
        var error = Assert.Throws<ImageReferenceException>(() => ImageReference.Parse(text));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains($"\"{text}\"", error.Message, StringComparison.Ordinal);
        Assert.Equal(Berth.Core.Errors.ErrorKind.InvalidArgument, error.Kind);
        Assert.False(ImageReference.TryParse(text, out var reference));
        Assert.Null(reference);
    }

    [Fact]
    public void RefusesTagsLongerThan128Characters()
    {
        Assert.True(ImageReference.TryParse("app:" + new string('t', 128), out _));
        Assert.Contains("is invalid", Assert.Throws<ImageReferenceException>(() => ImageReference.Parse("app:" + new string('t', 129))).Message);
    }

    [Fact]
    public void RefusesNamesLongerThan255Characters()
    {
        Assert.True(ImageReference.TryParse("example.com/" + new string('a', 243), out _));
        Assert.Contains("longer than 255", Assert.Throws<ImageReferenceException>(() => ImageReference.Parse("example.com/" + new string('a', 244))).Message);
    }

    [Fact]
    public void TryParseGivesTheReference()
    {
        Assert.True(ImageReference.TryParse("registry.k8s.io/pause:3.10", out var reference));
        Assert.Equal("registry.k8s.io/pause", reference.Repository);
        Assert.False(ImageReference.TryParse(null, out _));
    }
}
