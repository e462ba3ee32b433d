using Berth.RuntimeService.Network;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Tests.Unit.Network;

public sealed class CniNetworkConfigTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("berth-cni-conf-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void AListKeepsItsPluginsInOrderWithTheirCapabilitiesAndSwitches()
    {
        var network = CniNetworkConfig.Parse("""
            {
              // operators comment their files
              "cniVersion": "1.0.0", "name": "pods", "disableCheck": "true",
              "plugins": [
                { "type": "bridge", "bridge": "cni0", "ipam": { "type": "host-local" } },
                { "type": "portmap", "capabilities": { "portMappings": true, "bandwidth": false } },
              ]
            }
            """, "/etc/cni/net.d/10-pods.conflist");

        Assert.Equal("pods", network.Name);
        Assert.Equal("1.0.0", network.CniVersion.ToString());
        Assert.True(network.DisableCheck);
        Assert.False(network.DisableGc);
        Assert.Equal(["bridge", "portmap"], network.Plugins.Select(plugin => plugin.Type));
        Assert.Equal(["portMappings"], network.Plugins[1].Capabilities);
        Assert.Equal("cni0", network.Plugins[0].Json["bridge"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"cniVersion": "0.4.0", "cniVersions": ["0.3.1", "1.0.0", "1.1.0", "2.0.0"]}""", "1.1.0")]
    [InlineData("""{"cniVersion": "0.3.1"}""", "0.3.1")]
    [InlineData("""{"cniVersions": ["0.4.0", "1.0.0"]}""", "1.0.0")]
    public void TheHighestVersionBerthSpeaksIsSelected(string versions, string selected)
    {
        string text = versions.TrimEnd('}') + """, "name": "n", "plugins": [{"type": "bridge"}]}""";
        Assert.Equal(selected, CniNetworkConfig.ParseList(text, "x.conflist").CniVersion.ToString());
    }

    [Fact]
    public void ASinglePluginFileBecomesAListOfOneThatReadsBackTheSame()
    {
        var network = CniNetworkConfig.Parse("""{"cniVersion": "0.4.0", "name": "one", "type": "ptp", "ipMasq": true}""", "/x/99-one.conf");

        var again = CniNetworkConfig.ParseList(network.ToListJson().ToJsonString(), "recorded");

        Assert.Equal(["ptp"], again.Plugins.Select(plugin => plugin.Type));
        Assert.Equal("0.4.0", again.CniVersion.ToString());
        Assert.True(again.Plugins[0].Json["ipMasq"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData("x.conflist", """{"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}]}""", "'name' is missing")]
    [InlineData("x.conflist", """{"cniVersion": "1.0.0", "name": "-bad", "plugins": [{"type": "bridge"}]}""", "must start with a letter or digit")]
    [InlineData("x.conflist", """{"cniVersion": "1.0.0", "name": "n", "plugins": []}""", "'plugins' is empty")]
    [InlineData("x.conflist", """{"cniVersion": "1.0.0", "name": "n", "plugins": [{"ipam": {}}]}""", "plugins[0]: 'type'")]
    [InlineData("x.conflist", """{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "../../bin/sh"}]}""", "must be a file name")]
    [InlineData("x.conflist", """{"cniVersion": "0.2.0", "name": "n", "plugins": [{"type": "bridge"}]}""", "not one berth speaks")]
    [InlineData("x.conflist", """{"name": "n", "plugins": [{"type": "bridge"}]}""", "'cniVersion' is missing")]
    [InlineData("x.conflist", """{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "b", "capabilities": {"portMappings": 1}}]}""", "capabilities.portMappings")]
    [InlineData("x.conf", """{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "bridge"}]}""", "belongs in a .conflist")]
    [InlineData("x.json", """{"cniVersion": "1.0.0", "name": "n", """, "not valid JSON")]
    public void AConfigurationThatCannotBeUsedIsRefusedNamingTheFileAndTheProblem(string file, string text, string problem)
    {
        var error = Assert.Throws<CniConfigException>(() => CniNetworkConfig.Parse(text, file));
        Assert.StartsWith(file, error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void TheFirstConfigurationFileInByteOrderIsTheNetworkAndABrokenFirstOneIsNotSkipped()
    {
        var network = new CniPodNetwork(new CniSettings { ConfDir = _dir.FullName }, Path.Combine(_dir.FullName, "state"), NullLogger<CniPodNetwork>.Instance);
        Assert.Contains($"no CNI network configuration in {_dir.FullName}", Assert.Throws<CniConfigException>(network.LoadNetwork).Message);

        Write("20-b.conflist", """{"cniVersion": "1.0.0", "name": "b", "plugins": [{"type": "bridge"}]}""");
        Write("10-a.conf", """{"cniVersion": "1.0.0", "name": "a", "type": "ptp"}""");
        Write("05-notes.txt", "not a configuration");
        Write("Z-upper.json", """{"cniVersion": "1.0.0", "name": "upper", "type": "ptp"}""");
        Assert.Equal("a", network.LoadNetwork().Name);

        Write("01-broken.json", "{");
        Assert.Contains("01-broken.json", Assert.Throws<CniConfigException>(network.LoadNetwork).Message);
    }

    private void Write(string name, string text) => File.WriteAllText(Path.Combine(_dir.FullName, name), text);
}
