using System.Diagnostics;
using System.Text.Json.Nodes;
using Berth.Tests.E2e.Fixtures;

namespace Berth.Bench;

/// <summary>
/// The CNI ADD and DEL of a network configuration list with no runtime around them, for the pod_floor
/// row: each plugin of the list executed as the CNI spec (1.0, "Execution of Network Configuration
/// Lists") says a runtime must, ADD in order with the previous plugin's result as <c>prevResult</c>, DEL
/// in reverse order with the list's ADD result. No library does this for .NET, and berthd's own CNI side
/// lives inside the daemon; this is the few lines the floor needs, not a runtime.
/// </summary>
internal sealed class CniChain(JsonObject conflist)
{
    private const string InterfaceName = "eth0";

    /// <summary>ADD of every plugin into <paramref name="netns"/> (a pinned network namespace); returns the last result.</summary>
    public async Task<JsonNode?> AddAsync(string containerId, string netns, CancellationToken cancellation)
    {
        JsonNode? previous = null;
        foreach (var plugin in Plugins())
        {
            previous = JsonNode.Parse(await ExecAsync("ADD", plugin, previous, containerId, netns, cancellation));
        }
        return previous;
    }

    /// <summary>DEL of every plugin in reverse order, with <paramref name="result"/> (the ADD's) as prevResult.</summary>
    public async Task DelAsync(string containerId, string netns, JsonNode? result, CancellationToken cancellation)
    {
        foreach (var plugin in Plugins().Reverse())
        {
            await ExecAsync("DEL", plugin, result, containerId, netns, cancellation);
        }
    }

    private IEnumerable<JsonObject> Plugins() => conflist["plugins"]!.AsArray().Select(plugin => plugin!.AsObject());

    private async Task<string> ExecAsync(string command, JsonObject plugin, JsonNode? previous, string containerId, string netns, CancellationToken cancellation)
    {
        string type = plugin["type"]!.GetValue<string>();
        string program = TestNetwork.SystemPluginDirs.Select(dir => Path.Combine(dir, type)).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException($"CNI plugin {type} not found in {string.Join(", ", TestNetwork.SystemPluginDirs)}");
        var config = plugin.DeepClone().AsObject();
        config["cniVersion"] = conflist["cniVersion"]!.DeepClone();
        config["name"] = conflist["name"]!.DeepClone();
        if (previous is not null)
        {
            config["prevResult"] = previous.DeepClone();
        }
        var start = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["CNI_COMMAND"] = command;
        start.Environment["CNI_CONTAINERID"] = containerId;
        start.Environment["CNI_NETNS"] = netns;
        start.Environment["CNI_IFNAME"] = InterfaceName;
        start.Environment["CNI_PATH"] = string.Join(':', TestNetwork.SystemPluginDirs);
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(config.ToJsonString());
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(cancellation);
        var error = process.StandardError.ReadToEndAsync(cancellation);
        await process.WaitForExitAsync(cancellation);
        return process.ExitCode == 0
            ? await output
            : throw new InvalidOperationException($"CNI {command} of {type} exited {process.ExitCode}: {await output} {await error}".TrimEnd());
    }
}
