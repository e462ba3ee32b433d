using System.Text;
using Berth.ImageService.Images;

namespace Berth.Tests.Unit.Images;

public sealed class ImageConfigTests
{
    private const string DiffA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    private const string DiffB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    private static ImageConfig Parse(string json) => ImageConfig.Parse(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void ReadsTheRuntimeConfigAndDiffIds()
    {
        var config = Parse($$$"""
            {
              "architecture": "amd64", "os": "linux",
              "config": {
                "User": "1000:1000", "Env": ["PATH=/bin", "A=b"], "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"],
                "WorkingDir": "/work", "StopSignal": "SIGQUIT", "Volumes": {"/data": {}}, "Labels": {"k": "v"}
              },
              "rootfs": {"type": "layers", "diff_ids": ["{{{DiffA}}}", "{{{DiffB}}}"]}
            }
            """);
        Assert.Equal([DiffA, DiffB], config.DiffIds);
        Assert.Equal("1000:1000", config.User);
        Assert.Equal(["PATH=/bin", "A=b"], config.Env);
        Assert.Equal(["/bin/sh", "-c"], config.Entrypoint);
        Assert.Equal(["echo hi"], config.Cmd);
        Assert.Equal("/work", config.WorkingDir);
        Assert.Equal("SIGQUIT", config.StopSignal);
        Assert.Equal(["/data"], config.Volumes);
        Assert.Equal("v", config.Labels["k"]);
    }

    [Fact]
    public void NullAndMissingSectionsAreEmpty()
    {
        var config = Parse("""{"config": null, "rootfs": {"diff_ids": []}}""");
        Assert.Empty(config.DiffIds);
        Assert.Null(config.User);
        Assert.Empty(config.Env);
        Assert.Empty(config.Cmd);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("""{"rootfs": {"diff_ids": ["md5:abc"]}}""")]
    [InlineData("""{"config": {"Env": [1]}}""")]
    public void MalformedConfigsAreRefused(string json)
    {
        Assert.Throws<InvalidImageException>(() => Parse(json));
    }
}
