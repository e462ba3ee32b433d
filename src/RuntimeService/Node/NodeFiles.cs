using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Node;

/// <summary>Reads the node's facts a sandbox copies: its hostname, /etc/hosts and /etc/resolv.conf (empty when a file is missing).</summary>
public static class NodeFiles
{
    public static NodeFacts Read() => new(Environment.MachineName, ReadOrEmpty("/etc/hosts"), ReadOrEmpty("/etc/resolv.conf"));

    private static string ReadOrEmpty(string path) => File.Exists(path) ? File.ReadAllText(path) : "";
}
