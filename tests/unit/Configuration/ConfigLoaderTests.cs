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
        Assert.Equal("/run/berth/admin.sock", config.AdminSocketPath);
        Assert.Equal(3, config.MaxConcurrentDownloads);
        Assert.True(config.RewriteSocketAuthority);
        Assert.Equal("cgroupfs", config.CgroupDriver);
        Assert.Equal(["/etc/cdi", "/var/run/cdi"], config.CdiSpecDirs);
        ConfigLoader.Validate(config);
    }

    [Fact]
    public void TheStreamingServerDefaultsToLoopbackOnAFreePortAndSerialises()
    {
        var config = Parse("{}");
        Assert.Equal(("127.0.0.1", 0, 14400, false, 128),
            (config.Streaming.Address, config.Streaming.Port, config.Streaming.IdleTimeoutSeconds, config.Streaming.UsesTls, config.Streaming.MaxExecsPerContainer));
        var custom = Parse("""{"streaming": {"address": "::1", "port": 10010, "idleTimeoutSeconds": 60}}""");
        ConfigLoader.Validate(custom);
        Assert.Equal(System.Net.IPAddress.IPv6Loopback, custom.Streaming.AddressValue);
        // Status verbose shows the configuration: every property must serialise.
        Assert.Contains("\"streaming\"", ConfigLoader.Serialize(config));
        Assert.Contains("10010", ConfigLoader.Serialize(custom));
    }

    [Theory]
    [InlineData("""{"streaming": {"address": "localhost"}}""", "streaming.address")]
    [InlineData("""{"streaming": {"port": 70000}}""", "streaming.port")]
    [InlineData("""{"streaming": {"tlsCertFile": "/etc/hostname"}}""", "streaming.tlsCertFile and streaming.tlsKeyFile")]
    [InlineData("""{"streaming": {"tlsCertFile": "/nope", "tlsKeyFile": "/nope"}}""", "streaming.tlsCertFile: no such file")]
    [InlineData("""{"streaming": {"idleTimeoutSeconds": 0}}""", "streaming.idleTimeoutSeconds")]
    [InlineData("""{"streaming": {"maxExecsPerContainer": 16}}""", "streaming.maxExecsPerContainer: 16 is outside 17..128 (16 are kept for ExecSync)")]
    [InlineData("""{"streaming": {"maxExecsPerContainer": 129}}""", "streaming.maxExecsPerContainer: 129 is outside 17..128")]
    public void BadStreamingSettingsAreRefusedNamingTheKey(string json, string key)
    {
        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Validate(Parse(json)));
        Assert.Contains(key, error.Message);
    }

    [Theory]
    [InlineData("""{"adminListen": "/run/admin.sock"}""", "adminListen: '/run/admin.sock' must be unix://")]
    [InlineData("""{"adminListen": "unix:///run/berth/berth.sock"}""", "adminListen: the admin socket cannot be the CRI socket")]
    public void AnAdminSocketThatIsNoOtherUnixSocketIsRefused(string json, string message)
    {
        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Validate(Parse(json)));
        Assert.StartsWith(message, error.Message);
        Assert.Equal("/srv/admin.sock", Parse("""{"adminListen": "unix:///srv/admin.sock"}""").AdminSocketPath);
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
    [InlineData("""{"maxConcurrentDownloads": 99999999999}""", "maxConcurrentDownloads")]
    [InlineData("""[1, 2]""", "the file")]
    public void UnknownKeysAndWrongTypesAreRefusedNamingTheKeyInOurWords(string json, string key)
    {
        var error = Assert.Throws<ConfigException>(() => Parse(json));
        Assert.Contains(key, error.Message);
        Assert.DoesNotContain(".NET", error.Message);
        Assert.DoesNotContain("System.", error.Message);
        Assert.DoesNotContain("Berth.", error.Message);
    }

    [Theory]
    [InlineData("""{"listn": "unix:///x"}""", "unknown key listn ")]
    [InlineData("""{"registries": {"r": {"mirror": []}}}""", "unknown key registries.r.mirror ")]
    [InlineData("""{"streaming": {"bogus": 1}}""", "unknown key streaming.bogus ")]
    public void AnUnknownKeyIsNamedOnceWithItsPath(string json, string expected)
    {
        Assert.Contains(expected, Assert.Throws<ConfigException>(() => Parse(json)).Message);
    }

    [Theory]
    [InlineData("""{"listen": "tcp://0.0.0.0:1"}""", "listen")]
    [InlineData("""{"root": "relative/dir"}""", "root")]
    [InlineData("""{"state": ""}""", "state")]
    [InlineData("""{"metricsAddress": "0.0.0.0:9464"}""", "metricsAddress")]
    [InlineData("""{"maxConcurrentDownloads": 0}""", "maxConcurrentDownloads")]
    [InlineData("""{"pullProgressTimeoutSeconds": 0}""", "pullProgressTimeoutSeconds")]
    [InlineData("""{"statsCollectPeriodSeconds": 0}""", "statsCollectPeriodSeconds")]
    [InlineData("""{"containerEventsQueueLength": 0}""", "containerEventsQueueLength")]
    [InlineData("""{"logLevel": "Loud"}""", "logLevel")]
    [InlineData("""{"seccompProfileRoot": "profiles"}""", "seccompProfileRoot")]
    [InlineData("""{"cdiSpecDirs": ["/etc/cdi", "cdi"]}""", "cdiSpecDirs")]
    [InlineData("""{"cdiSpecDirs": null}""", "cdiSpecDirs")]
    [InlineData("""{"cgroupDriver": "Systemd"}""", "cgroupDriver")]
    [InlineData("""{"systemdBusAddress": "/run/systemd/private"}""", "systemdBusAddress")]
    [InlineData("""{"registries": {"r": {"mirrors": ["ftp://x"]}}}""", "registries.r.mirrors")]
    [InlineData("""{"registries": {"r": {"mirrors": ["http://127.0.0.1:5000/?x=1"]}}}""", "registries.r.mirrors")]
    [InlineData("""{"registries": {"r": {"mirrors": ["http://127.0.0.1:5000/#f"]}}}""", "registries.r.mirrors")]
    [InlineData("""{"registries": {"r": {"ca": "/nonexistent/ca.pem"}}}""", "registries.r.ca")]
    [InlineData("""{"registries": null}""", "registries")]
    [InlineData("""{"registries": {"r": null}}""", "registries.r")]
    [InlineData("""{"registries": {"r": {"mirrors": null}}}""", "registries.r.mirrors")]
    [InlineData("""{"blockIo": null}""", "blockIo")]
    [InlineData("""{"blockIo": {"weightDevice": null}}""", "blockIo.weightDevice")]
    [InlineData("""{"blockIo": {"weight": 5}}""", "blockIo.weight")]
    [InlineData("""{"blockIo": {"throttleReadBpsDevice": [{"path": "sda", "rate": 1}]}}""", "blockIo.throttleReadBpsDevice")]
    [InlineData("""{"shimPath": "/nope/berth-shim"}""", "shimPath")]
    [InlineData("""{"cni": null}""", "cni")]
    [InlineData("""{"cni": {"confDir": "net.d"}}""", "cni.confDir")]
    [InlineData("""{"cni": {"binDirs": []}}""", "cni.binDirs")]
    [InlineData("""{"cni": {"binDirs": ["/opt/a:/opt/b"]}}""", "cni.binDirs")]
    [InlineData("""{"cni": {"pluginTimeoutSeconds": 0}}""", "cni.pluginTimeoutSeconds")]
    [InlineData("""{"cni": {"confTemplate": "/nonexistent/template.conflist"}}""", "cni.confTemplate")]
    public void BadValuesAreRefusedNamingTheKey(string json, string key)
    {
        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Validate(Parse(json)));
        Assert.StartsWith(key, error.Message);
    }

    [Theory]
    [InlineData("not base64!", "registries.myreg:5443.auth: the auth field is not valid base64")]
    [InlineData("dXNlcg==", "registries.myreg:5443.auth: the auth field does not decode to \"user:password\"")]
    public void CredentialsThatDoNotDecodeAreRefusedNamingTheRegistryAndKey(string auth, string expected)
    {
        var config = Parse("{\"registries\": {\"myreg:5443\": {\"auth\": \"" + auth + "\"}}}");
        Assert.StartsWith(expected, Assert.Throws<ConfigException>(() => ConfigLoader.Validate(config)).Message);
        ConfigLoader.Validate(Parse("""{"registries": {"myreg:5443": {"auth": "dXNlcjpwYXNz"}}}"""));
    }

    [Fact]
    public void ACaThatIsMissingUnreadableOrNotPemIsRefusedNamingTheRegistryAndKey()
    {
        var directory = Directory.CreateTempSubdirectory("berth-ca-");
        try
        {
            string Refusal(string ca) => Assert.Throws<ConfigException>(() => ConfigLoader.Validate(
                Parse("{\"registries\": {\"myreg:5443\": {\"ca\": \"" + ca + "\"}}}"))).Message;
            string text = Path.Combine(directory.FullName, "ca.txt");
            File.WriteAllText(text, "just text\n");
            string garbled = Path.Combine(directory.FullName, "garbled.pem");
            File.WriteAllText(garbled, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");

            Assert.Equal($"registries.myreg:5443.ca: no such file '{directory.FullName}/none.pem'", Refusal($"{directory.FullName}/none.pem"));
            Assert.Equal($"registries.myreg:5443.ca: '{directory.FullName}' is a directory, not a PEM file", Refusal(directory.FullName));
            Assert.Equal($"registries.myreg:5443.ca: '{text}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)", Refusal(text));
            Assert.StartsWith($"registries.myreg:5443.ca: '{garbled}' holds a PEM block that is not a certificate: ", Refusal(garbled));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void TheCniDefaultsAreContainerdsDirectoriesAndTheyCanBeSet()
    {
        var defaults = Parse("{}").Cni;
        Assert.Equal("/etc/cni/net.d", defaults.ConfDir);
        Assert.Equal(["/opt/cni/bin", "/usr/lib/cni"], defaults.BinDirs);
        Assert.Equal(60, defaults.PluginTimeoutSeconds);
        Assert.Null(defaults.ConfTemplate);

        var set = Parse("""{"cni": {"confDir": "/srv/net.d", "binDirs": ["/srv/cni"], "pluginTimeoutSeconds": 5}}""").Cni;
        Assert.Equal("/srv/net.d", set.ConfDir);
        Assert.Equal(["/srv/cni"], set.BinDirs);
        Assert.Equal(5, set.PluginTimeoutSeconds);
        Assert.Contains("confdir", Assert.Throws<ConfigException>(() => Parse("""{"cni": {"confdir": "/x"}}""")).Message);
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
