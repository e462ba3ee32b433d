using System.Text.Json.Nodes;
using Berth.RuntimeService.Network;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Tests.Unit.Network;

/// <summary>
/// Plugins written as shell scripts in a temporary bin dir, run through the real invoker: each logs
/// "COMMAND TYPE NETNS" to a calls file and keeps its stdin as TYPE-COMMAND.json. No root needed.
/// </summary>
internal sealed class ScriptPlugins : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("berth-cni-plugins-");

    public ScriptPlugins()
    {
        Directory.CreateDirectory(BinDir);
        Directory.CreateDirectory(ConfDir);
    }

    public string BinDir => Path.Combine(_dir.FullName, "bin");
    public string ConfDir => Path.Combine(_dir.FullName, "net.d");
    public string StateDir => Path.Combine(_dir.FullName, "state");
    public string Root => _dir.FullName;
    public string CallsFile => Path.Combine(_dir.FullName, "calls");

    public IReadOnlyList<string> Calls => File.Exists(CallsFile) ? File.ReadAllLines(CallsFile) : [];

    public JsonNode Request(string type, string command) => JsonNode.Parse(File.ReadAllText(Path.Combine(_dir.FullName, $"{type}-{command}.json")))!;

    /// <summary>
    /// A plugin whose ADD answers a result giving eth0 <paramref name="address"/> (or passes prevResult on
    /// when <paramref name="address"/> is null), and whose other commands run <paramref name="other"/>.
    /// </summary>
    public void Add(string type, string? address = null, string versions = "\"0.4.0\",\"1.0.0\",\"1.1.0\"", string onAdd = "", string other = "")
    {
        string result = address is null
            ? """printf '%s' "$in" | sed -e 's/^.*"prevResult"://' -e 's/,"runtimeConfig".*$/}/' -e 's/}$//'"""
            : $$"""echo '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"'"$CNI_NETNS"'"}],"ips":[{"address":"{{address}}","interface":0}]}'""";
        string path = Path.Combine(BinDir, type);
        File.WriteAllText(path, $$"""
            #!/bin/sh
            in=$(cat)
            echo "$CNI_COMMAND {{type}} $CNI_NETNS" >> {{CallsFile}}
            printf '%s' "$in" > {{_dir.FullName}}/{{type}}-$CNI_COMMAND.json
            case "$CNI_COMMAND" in
            VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":[{{versions}}]}' ;;
            ADD) {{onAdd}}
                 {{result}} ;;
            *) {{other}} ;;
            esac
            """);
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("755", 8));
    }

    public void WriteConfig(string version, params string[] plugins) =>
        File.WriteAllText(Path.Combine(ConfDir, "10-test.conflist"),
            $$"""{"cniVersion": "{{version}}", "name": "test", "plugins": [{{string.Join(",", plugins)}}]}""");

    public CniPodNetwork Network(int timeoutSeconds = 10) =>
        new(new CniSettings { ConfDir = ConfDir, BinDirs = [BinDir], PluginTimeoutSeconds = timeoutSeconds }, StateDir, NullLogger<CniPodNetwork>.Instance);

    public void Dispose() => _dir.Delete(recursive: true);
}
