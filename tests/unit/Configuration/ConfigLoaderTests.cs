using System.Text;
using Berth.RuntimeService.Configuration;

namespace Berth.Tests.Unit.Configuration;

public sealed class ConfigLoaderTests
{
    private static BerthConfig Parse(string json) => ConfigLoader.Parse(Encoding.UTF8.GetBytes(json), "config.json");

    [Fact]
    public void EmptyObjectGivesTheEmbeddedDefaults()
    {
        var config = Parse("{}");
        Assert.Equal("unix:///run/berth/berth.sock", config.Listen);
        Assert.Equal("/var/lib/berth", config.Root);
        Assert.Equal("/run/berth", config.State);
        Assert.Equal("/run/berth/berth.sock", config.SocketPath);
        Assert.Equal(3, config.MaxConcurrentDownloads);
        Assert.True(config.RewriteSocketAuthority);
        Assert.Equal("cgroupfs", config.CgroupDriver);
        ConfigLoader.Validate(config);
    }

    [Fact]
    public void TheSystemdCgroupDriverIsChosenByName()
    {
        var config = Parse("""{"cgroupDriver": "systemd"}""");
        ConfigLoader.Validate(config);
        Assert.Equal(Berth.RuntimeService.Specs.CgroupDriverKind.Systemd, config.CgroupDriverKind);
        Assert.Equal("unix:path=/run/systemd/private", config.SystemdBusAddress);
    }

    [Fact]
    public void TheSocketAuthorityRewriterCanBeTurnedOff()
    {
        Assert.False(Parse("""{"rewriteSocketAuthority": false}""").RewriteSocketAuthority);
        var error = Assert.Throws<ConfigException>(() => Parse("""{"rewriteSocketAuthority": "no"}"""));
        Assert.Contains("rewriteSocketAuthority", error.Message);
    }

    [Fact]
    public void ReadsRegistriesWithMirrorsAndCredentials()
    {
        var config = Parse("""
            {
              // comments are allowed
              "registries": {
                "registry.k8s.io": { "mirrors": ["http://127.0.0.1:5000"] },
                "myreg:5443": { "username": "u", "password": "p", "insecure": true },
              }
            }
            """);
        Assert.Equal(["http://127.0.0.1:5000"], config.Registries["registry.k8s.io"].Mirrors);
        Assert.True(config.Registries["myreg:5443"].Insecure);
        Assert.Empty(config.Registries["myreg:5443"].Mirrors);
        Assert.Equal(3, config.MaxConcurrentDownloads);
        Assert.Equal("u", config.Registries["myreg:5443"].Username);
    }

    [Theory]
    [InlineData("""{"listn": "unix:///x"}""", "listn")]
    [InlineData("""{"registries": {"r": {"mirror": []}}}""", "mirror")]
    [InlineData("""{"maxConcurrentDownloads": "three"}""", "maxConcurrentDownloads")]
    public void UnknownKeysAndWrongTypesAreRefusedNamingTheKey(string json, string key)
    {
        var error = Assert.Throws<ConfigException>(() => Parse(json));
        Assert.Contains(key, error.Message);
    }

    [Theory]
    [InlineData("""{"listen": "tcp://0.0.0.0:1"}""", "listen")]
    [InlineData("""{"root": "relative/dir"}""", "root")]
    [InlineData("""{"state": ""}""", "state")]
    [InlineData("""{"metricsAddress": "0.0.0.0:9464"}""", "metricsAddress")]
    [InlineData("""{"maxConcurrentDownloads": 0}""", "maxConcurrentDownloads")]
    [InlineData("""{"pullProgressTimeoutSeconds": 0}""", "pullProgressTimeoutSeconds")]
    [InlineData("""{"logLevel": "Loud"}""", "logLevel")]
    [InlineData("""{"cgroupDriver": "Systemd"}""", "cgroupDriver")]
    [InlineData("""{"systemdBusAddress": "/run/systemd/private"}""", "systemdBusAddress")]
    [InlineData("""{"registries": {"r": {"mirrors": ["ftp://x"]}}}""", "registries.r.mirrors")]
    [InlineData("""{"registries": {"r": {"ca": "/nonexistent/ca.pem"}}}""", "registries.r.ca")]
    public void BadValuesAreRefusedNamingTheKey(string json, string key)
    {
        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Validate(Parse(json)));
        Assert.StartsWith(key, error.Message);
    }

    [Fact]
    public void FlagsOverrideTheFile()
    {
        var directory = Directory.CreateTempSubdirectory("berth-config-");
        try
        {
            var path = Path.Combine(directory.FullName, "config.json");
            File.WriteAllText(path, """{"root": "/from/file", "state": "/from/file/state"}""");
            var config = ConfigLoader.Load(["--config", path, "--root=/from/flag"]);
            Assert.Equal("/from/flag", config.Root);
            Assert.Equal("/from/file/state", config.State);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("--bogus", "x")]
    [InlineData("positional")]
    [InlineData("--root")]
    [InlineData("--config", "/nonexistent/berth.json")]
    public void BadFlagsAreRefused(params string[] args)
    {
        Assert.Throws<ConfigException>(() => ConfigLoader.Load(args));
    }
}
