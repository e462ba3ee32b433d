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
    public void AReloadAppliesRegistriesAndLogLevelAndNamesTheRest()
    {
        var running = new BerthConfig();
        var next = ConfigLoader.Merge([File("config.json", """
            {"logLevel": "Debug", "registries": {"a.io": {"mirrors": ["http://m"]}}, "root": "/srv/berth", "cgroupDriver": "systemd"}
            """)]);
        var (applied, needRestart) = ConfigReload.Compare(running, next);
        Assert.Equal(["logLevel", "registries"], applied);
        Assert.Equal(["cgroupDriver", "root"], needRestart);
        Assert.Equal((Array.Empty<string>(), Array.Empty<string>()), (ConfigReload.Compare(next, next).Applied.ToArray(), ConfigReload.Compare(next, next).NeedRestart.ToArray()));
    }
}
