using System.Text;
using Berth.RuntimeService.Configuration;

namespace Berth.Tests.Unit.Configuration;

/// <summary>config.json plus config.d drop-ins, and what a reload may apply.</summary>
public sealed class ConfigMergeTests
{
    private static (string, byte[]) File(string path, string json) => (path, Encoding.UTF8.GetBytes(json));

    [Fact]
    public void DropInsMergeObjectsKeyByKeyAndReplaceEverythingElse()
    {
        var config = ConfigLoader.Merge(
        [
            File("config.json", """{"logLevel": "Debug", "maxConcurrentDownloads": 5, "registries": {"a.io": {"mirrors": ["http://m1"]}, "b.io": {"insecure": true}}}"""),
            File("config.d/10-mirrors.json", """{"registries": {"a.io": {"mirrors": ["http://m2"]}, "c.io": {"username": "u"}}}"""),
            File("config.d/20-level.json", """{"logLevel": "Warning"}"""),
        ]);
        Assert.Equal("Warning", config.LogLevel);
        Assert.Equal(5, config.MaxConcurrentDownloads);
        Assert.Equal(["http://m2"], config.Registries["a.io"].Mirrors);
        Assert.True(config.Registries["b.io"].Insecure);
        Assert.Equal("u", config.Registries["c.io"].Username);
    }

    [Fact]
    public void DropInsAreReadInLexicalOrderBesideTheFile()
    {
        var directory = Directory.CreateTempSubdirectory("berth-config-");
        try
        {
            string path = Path.Combine(directory.FullName, "config.json");
            System.IO.File.WriteAllText(path, """{"logLevel": "Debug"}""");
            Directory.CreateDirectory(Path.Combine(directory.FullName, "config.d"));
            System.IO.File.WriteAllText(Path.Combine(directory.FullName, "config.d", "b.json"), """{"logLevel": "Error"}""");
            System.IO.File.WriteAllText(Path.Combine(directory.FullName, "config.d", "a.json"), """{"logLevel": "Warning"}""");
            System.IO.File.WriteAllText(Path.Combine(directory.FullName, "config.d", "c.json.disabled"), """{"logLevel": "Trace"}""");
            Assert.Equal("Error", ConfigLoader.Load(["--config", path]).LogLevel);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void ABadDropInIsRefusedNamingItsFileAndKey()
    {
        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Merge(
            [File("config.json", "{}"), File("config.d/10-bad.json", """{"registries": {"a.io": {"mirror": []}}}""")]));
        Assert.Contains("config.d/10-bad.json", error.Message);
        Assert.Contains("mirror", error.Message);
        Assert.Throws<ConfigException>(() => ConfigLoader.Merge([File("config.d/x.json", "[1]")]));
    }

    [Fact]
    public void AReloadAppliesTheCniDirectoriesAndNamesEachChangedMember()
    {
        var running = ConfigLoader.Merge([File("config.json", """{"cni": {"confDir": "/etc/cni/net.d"}, "streaming": {"port": 10010}}""")]);
        var next = ConfigLoader.Merge([File("config.json", """
            {"cni": {"confDir": "/srv/net.d", "binDirs": ["/srv/cni/bin"], "pluginTimeoutSeconds": 60}, "streaming": {"port": 10011}}
            """)]);

        var (applied, needRestart) = ConfigReload.Compare(running, next);

        // pluginTimeoutSeconds is unchanged (60 is the default): only what differs is named.
        Assert.Equal(["cni.binDirs", "cni.confDir"], applied);
        Assert.Equal(["streaming.port"], needRestart);
        Assert.Contains("cni", ConfigReload.Reloadable);
    }

    [Fact]
    public void AValueRefusedAfterTheMergeNamesTheFileItCameFromAndTheKey()
    {
        var directory = Directory.CreateTempSubdirectory("berth-config-");
        try
        {
            string path = Path.Combine(directory.FullName, "config.json");
            string dropIns = Directory.CreateDirectory(Path.Combine(directory.FullName, "config.d")).FullName;
            System.IO.File.WriteAllText(path, """{"maxConcurrentDownloads": 4, "cni": {"binDirs": ["/opt/cni/bin"]}}""");
            System.IO.File.WriteAllText(Path.Combine(dropIns, "10-net.json"), """{"cni": {"confDir": "net.d"}}""");
            System.IO.File.WriteAllText(Path.Combine(dropIns, "20-level.json"), """{"logLevel": "Debug"}""");
            Assert.Equal($"{Path.Combine(dropIns, "10-net.json")}: cni.confDir: 'net.d' must be an absolute path",
                Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", path])).Message);

            System.IO.File.WriteAllText(Path.Combine(dropIns, "10-net.json"), """{"cni": {"confDir": "/etc/cni/net.d"}}""");
            System.IO.File.WriteAllText(path, """{"maxConcurrentDownloads": 0}""");
            Assert.Equal($"{path}: maxConcurrentDownloads: 0 is outside 1..64",
                Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", path])).Message);

            System.IO.File.WriteAllText(path, "{}");
            Assert.StartsWith("--root: root: 'relative' must be an absolute path",
                Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", path, "--root", "relative"])).Message);

            // A registry's key names the file that set that registry's value, among several that set registries.
            System.IO.File.WriteAllText(Path.Combine(dropIns, "30-a.json"), """{"registries": {"a.io": {"mirrors": ["http://127.0.0.1:5000"]}}}""");
            System.IO.File.WriteAllText(Path.Combine(dropIns, "40-b.json"), """{"registries": {"b.io:5443": {"auth": "not base64!"}}}""");
            Assert.Equal($"{Path.Combine(dropIns, "40-b.json")}: registries.b.io:5443.auth: the auth field is not valid base64 (expected base64 of \"user:password\")",
                Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", path])).Message);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void OriginsAreTheLastFileToSetAKeyOrItsNearestParent()
    {
        var origins = ConfigLoader.Origins(
        [
            File("config.json", """{"registries": {"a.io": {"insecure": true}}, "cni": {"confDir": "/x"}}"""),
            File("config.d/10.json", """{"registries": {"a.io": {"ca": "/ca.pem"}}}"""),
        ]);
        Assert.Equal("config.d/10.json", ConfigLoader.Origin(origins, "registries.a.io.ca"));
        Assert.Equal("config.json", ConfigLoader.Origin(origins, "registries.a.io.insecure"));
        Assert.Equal("config.json", ConfigLoader.Origin(origins, "cni.binDirs"));
        Assert.Null(ConfigLoader.Origin(origins, "shimPath"));
    }

    [Fact]
    public void AReloadAppliesRegistriesAndLogLevelAndNamesTheRest()
    {
        var running = new BerthConfig();
        var next = ConfigLoader.Merge([File("config.json", """
            {"logLevel": "Debug", "registries": {"a.io": {"mirrors": ["http://m"]}}, "root": "/srv/berth", "cgroupDriver": "systemd"}
            """)]);
        var (applied, needRestart) = ConfigReload.Compare(running, next);
        Assert.Equal(["logLevel", "registries.a.io"], applied);
        Assert.Equal(["cgroupDriver", "root"], needRestart);
        Assert.Equal((Array.Empty<string>(), Array.Empty<string>()), (ConfigReload.Compare(next, next).Applied.ToArray(), ConfigReload.Compare(next, next).NeedRestart.ToArray()));
    }
}
