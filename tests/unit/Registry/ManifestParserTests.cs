using System.Text;
using Berth.ImageService.Registry;

namespace Berth.Tests.Unit.Registry;

public sealed class ManifestParserTests
{
    private const string Layer = "application/vnd.oci.image.layer.v1.tar+gzip";

    private static readonly string[] IndexPlatforms =
        ["linux/amd64", "linux/amd64/v3", "linux/arm/v6", "linux/arm/v7", "linux/arm64/v8", "linux/386", "linux/ppc64le", "windows/amd64",
            "unknown/unknown"]; // as buildkit marks its attestation manifests

    private static ImageIndexDocument Index(params string[] platforms)
    {
        var bytes = TestImage.IndexOf(platforms.Select(platform => (TestImage.Create("x"), platform)).ToArray());
        return Assert.IsType<ImageIndexDocument>(ManifestParser.Parse(bytes, null, "test index"));
    }

    private static string Selected(ImageIndexDocument index, Platform node) => index.SelectFor(node, "app").Platform!.ToString();

    [Theory]
    [InlineData("amd64", null, "linux/amd64")]
    [InlineData("amd64", "v3", "linux/amd64/v3")] // the exact variant wins
    [InlineData("amd64", "v2", "linux/amd64")] // v3 does not run on v2; the entry without variant does
    [InlineData("x86_64", null, "linux/amd64")]
    [InlineData("arm64", null, "linux/arm64/v8")] // arm64 without variant is v8
    [InlineData("arm64", "v8", "linux/arm64/v8")]
    [InlineData("aarch64", null, "linux/arm64/v8")]
    [InlineData("arm", "v7", "linux/arm/v7")]
    [InlineData("arm", null, "linux/arm/v7")]
    [InlineData("arm", "v6", "linux/arm/v6")]
    [InlineData("arm", "v8", "linux/arm/v7")] // the newest older variant
    [InlineData("386", null, "linux/386")]
    public void SelectsTheBestEntryForTheNode(string architecture, string? variant, string expected)
    {
        Assert.Equal(expected, Selected(Index(IndexPlatforms), new Platform("linux", architecture, variant)));
    }

    [Fact]
    public void AnEntryWithoutVariantMatchesAnyVariantOfItsArchitecture()
    {
        Assert.Equal("linux/arm64", Selected(Index("linux/amd64", "linux/arm64"), new Platform("linux", "arm64", "v8")));
        Assert.Equal("linux/arm", Selected(Index("linux/arm"), new Platform("linux", "arm", "v7")));
    }

    [Fact]
    public void PrefersTheExactVariantToAnEntryWithoutOne()
    {
        Assert.Equal("linux/arm/v6", Selected(Index("linux/arm/v7", "linux/arm/v6"), new Platform("linux", "arm", "v6")));
        Assert.Equal("linux/amd64/v2", Selected(Index("linux/amd64", "linux/amd64/v2"), new Platform("linux", "amd64", "v2")));
    }

    [Fact]
    public void NamesTheAvailablePlatformsWhenNoneMatches()
    {
        var error = Assert.Throws<RegistryException>(() => Index(IndexPlatforms).SelectFor(new Platform("linux", "s390x"), "docker.io/library/app:1"));

        Assert.Equal(RegistryErrorKind.NoMatchingPlatform, error.Reason);
        Assert.Equal("docker.io/library/app:1 has no image for linux/s390x; it has linux/amd64, linux/amd64/v3, linux/arm/v6, linux/arm/v7, " +
            "linux/arm64/v8, linux/386, linux/ppc64le, windows/amd64, unknown/unknown", error.Message);
    }

    [Fact]
    public void OlderVariantsDoNotRunNewerOnes()
    {
        var error = Assert.Throws<RegistryException>(() => Index("linux/arm/v7").SelectFor(new Platform("linux", "arm", "v6"), "app"));
        Assert.Equal(RegistryErrorKind.NoMatchingPlatform, error.Reason);
    }

    [Fact]
    public void ReadsADockerManifestList()
    {
        var image = TestImage.Create("amd64");
        var list = $$"""
            {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
              {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{{image.ManifestDigest}}","size":{{image.Manifest.Length}},
               "platform":{"architecture":"amd64","os":"linux"} }]}
            """;
        var index = Assert.IsType<ImageIndexDocument>(ManifestParser.Parse(Encoding.UTF8.GetBytes(list), null, "list"));

        Assert.Equal(new Descriptor("application/vnd.docker.distribution.manifest.v2+json", image.ManifestDigest, image.Manifest.Length),
            index.SelectFor(new Platform("linux", "amd64"), "app").Descriptor);
    }

    [Fact]
    public void ReadsAnImageManifest()
    {
        var image = TestImage.Create("amd64");

        var manifest = Assert.IsType<ImageManifestDocument>(ManifestParser.Parse(image.Manifest, "text/plain", "manifest"));

        Assert.Equal(TestImage.OciManifestType, manifest.MediaType);
        Assert.Equal(new Descriptor("application/vnd.oci.image.config.v1+json", image.ConfigDigest, image.Config.Length), manifest.Config);
        Assert.Equal([new Descriptor(Layer, image.LayerDigest, image.Layer.Length)], manifest.Layers);
    }

    [Fact]
    public void TellsAnOciDocumentWithoutMediaTypeByItsFields()
    {
        var manifest = $$"""{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{TestImage.DigestOf([1])}}","size":1},"layers":[]}""";
        var index = """{"schemaVersion":2,"manifests":[]}""";

        Assert.Equal(TestImage.OciManifestType, ManifestParser.Parse(Encoding.UTF8.GetBytes(manifest), "application/json", "m").MediaType);
        Assert.Equal(TestImage.OciIndexType, ManifestParser.Parse(Encoding.UTF8.GetBytes(index), null, "i").MediaType);
    }

    [Theory]
    [InlineData("application/vnd.docker.distribution.manifest.v1+prettyjws")]
    [InlineData("application/vnd.docker.distribution.manifest.v1+json")]
    [InlineData(null)]
    public void RefusesDockerSchema1(string? contentType)
    {
        const string schema1 = """
            {"schemaVersion":1,"name":"library/app","tag":"old","architecture":"amd64",
             "fsLayers":[{"blobSum":"sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}],
             "history":[{"v1Compatibility":"{}"}],"signatures":[]}
            """;

        var error = Assert.Throws<RegistryException>(() => ManifestParser.Parse(Encoding.UTF8.GetBytes(schema1), contentType, "manifest of app:old"));

        Assert.Equal(RegistryErrorKind.Unsupported, error.Reason);
        Assert.Contains("manifest of app:old is a Docker image manifest schema 1", error.Message);
    }

    [Theory]
    [InlineData("not json", RegistryErrorKind.InvalidManifest, "is not valid manifest JSON")]
    [InlineData("""{"schemaVersion":3}""", RegistryErrorKind.InvalidManifest, "schemaVersion 3")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}""", RegistryErrorKind.InvalidManifest, "has no \"config\"")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}""", RegistryErrorKind.InvalidManifest, "has no \"manifests\"")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:00","size":-1},"layers":[]}""",
        RegistryErrorKind.InvalidManifest, "config needs a mediaType, a digest and a size")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:00","size":1},"layers":[]}""",
        RegistryErrorKind.InvalidManifest, "malformed digest \"sha256:00\"")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha512:00","size":1},"layers":[]}""",
        RegistryErrorKind.Unsupported, "only sha256 digests are supported")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:00","size":1},"layers":[]}""",
        RegistryErrorKind.Unsupported, "is not a container image")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.example+json"}""", RegistryErrorKind.Unsupported, "neither an image manifest nor an image index")]
    public void RefusesWhatItCannotPull(string json, RegistryErrorKind kind, string expected)
    {
        var error = Assert.Throws<RegistryException>(() => ManifestParser.Parse(Encoding.UTF8.GetBytes(json), null, "manifest of app"));

        Assert.Equal(kind, error.Reason);
        Assert.Contains(expected, error.Message);
    }
}
