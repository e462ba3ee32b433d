using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Berth.Core.Errors;

namespace Berth.RuntimeService.Network;

/// <summary>The per-attachment parameters of spec section 3: CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and the capability arguments.</summary>
/// <param name="CapabilityArgs">Capability name → value; each plugin gets, in runtimeConfig, those it declares in its capabilities.</param>
public sealed record CniAttachmentParameters(string ContainerId, string NetnsPath, string IfName, string Args, JsonObject CapabilityArgs)
{
    public CniInvocation Invocation(string command) => new(command, ContainerId, NetnsPath, IfName, Args);
}

/// <summary>
/// Executes network configurations as spec section 3 says, libcni's job: ADD through the plugin list
/// with each result chained as the next prevResult, DEL in reverse order with the ADD's result, CHECK,
/// STATUS and GC of spec 1.1, and the VERSION probe that validates a configuration. The request
/// configuration of each call is derived from the plugin's (name, cniVersion, runtimeConfig, prevResult injected).
/// </summary>
public sealed class CniRuntime(CniPluginInvoker invoker)
{
    /// <summary>VERSION answers by plugin binary (path, size and time): a new binary is asked again.</summary>
    private readonly ConcurrentDictionary<(string Path, long Length, DateTime Modified), IReadOnlyList<string>> _versions = new();

    public CniPluginInvoker Invoker => invoker;

    /// <summary>Runs ADD through every plugin in order; returns the last plugin's result. Throws <see cref="CniPluginException"/> from the first that fails.</summary>
    public async Task<CniResult> AddAsync(CniNetworkConfig network, CniAttachmentParameters attachment, CancellationToken cancellation)
    {
        JsonObject? previous = null;
        CniResult? result = null;
        foreach (var plugin in network.Plugins)
        {
            string output = await invoker.InvokeAsync(plugin.Type, attachment.Invocation("ADD"), Request(network, plugin, previous, attachment), cancellation);
            try
            {
                result = CniResult.Parse(output);
            }
            catch (FormatException error)
            {
                throw new CniPluginException(ErrorKind.Unavailable, plugin.Type, "ADD", 0, $"CNI plugin {plugin.Type} (ADD) gave no usable result: {error.Message}");
            }
            previous = result.Json;
        }
        return result!;
    }

    /// <summary>
    /// Runs DEL through every plugin in reverse order, each given <paramref name="addResult"/> as prevResult
    /// (from spec 0.4.0; null when the ADD never finished). A plugin that fails (or is missing) does not
    /// stop the others: the IPAM plugin's DEL still frees the lease. Then throws the first failure.
    /// </summary>
    public async Task DeleteAsync(CniNetworkConfig network, CniAttachmentParameters attachment, JsonObject? addResult, CancellationToken cancellation)
    {
        var previous = network.CniVersion >= CniVersion.WithCheck ? addResult : null;
        BerthException? first = null;
        foreach (var plugin in network.Plugins.Reverse())
        {
            try
            {
                await invoker.InvokeAsync(plugin.Type, attachment.Invocation("DEL"), Request(network, plugin, previous, attachment), cancellation);
            }
            catch (BerthException failure) when (!cancellation.IsCancellationRequested)
            {
                first ??= failure;
            }
        }
        if (first is not null)
        {
            throw first;
        }
    }

    /// <summary>
    /// Runs CHECK through every plugin with the ADD's result; nothing when the network disables it or its
    /// version predates CHECK (0.4.0). The first plugin, which made the pod's interface, decides: its
    /// failure throws. What chained plugins report is returned, not thrown, since Debian's portmap and
    /// bandwidth (1.1.1) fail CHECK on healthy pods (a missing ip6tables chain, a nil dereference).
    /// </summary>
    /// <returns>The chained plugins' failures, in chain order; empty when all passed.</returns>
    public async Task<IReadOnlyList<string>> CheckAsync(CniNetworkConfig network, CniAttachmentParameters attachment, JsonObject addResult, CancellationToken cancellation)
    {
        var chained = new List<string>();
        if (network.DisableCheck || network.CniVersion < CniVersion.WithCheck)
        {
            return chained;
        }
        foreach (var (plugin, index) in network.Plugins.Select((plugin, index) => (plugin, index)))
        {
            try
            {
                await invoker.InvokeAsync(plugin.Type, attachment.Invocation("CHECK"), Request(network, plugin, addResult, attachment), cancellation);
            }
            catch (BerthException failure) when (index > 0 && !cancellation.IsCancellationRequested)
            {
                chained.Add(failure.Message);
            }
        }
        return chained;
    }

    /// <summary>
    /// Whether the network can take ADDs: every plugin exists and says (VERSION) it speaks the network's
    /// version; from spec 1.1.0 each also answers STATUS. Throws FailedPrecondition or
    /// <see cref="CniPluginException"/> with the first problem found.
    /// </summary>
    public async Task ProbeAsync(CniNetworkConfig network, CancellationToken cancellation)
    {
        foreach (var plugin in network.Plugins)
        {
            var supported = await SupportedVersionsAsync(plugin.Type, network.CniVersion, cancellation);
            if (!supported.Contains(network.CniVersion.ToString()))
            {
                throw BerthException.FailedPrecondition(
                    $"CNI plugin {plugin.Type} does not speak version {network.CniVersion} of network {network.Name} (it speaks {string.Join(", ", supported)})");
            }
        }
        if (network.CniVersion >= CniVersion.WithStatusAndGc)
        {
            foreach (var plugin in network.Plugins)
            {
                await invoker.InvokeAsync(plugin.Type, new CniInvocation("STATUS"), Request(network, plugin, null, null), cancellation);
            }
        }
    }

    /// <summary>
    /// Spec 1.1 GC: tells every plugin which attachments of the network are still valid, so it can drop
    /// the resources of others (IP reservations, firewall rules). Nothing before 1.1.0 or when the network
    /// disables GC. Every plugin is called even when one fails; the failures are returned.
    /// </summary>
    public async Task<IReadOnlyList<string>> CollectGarbageAsync(
        CniNetworkConfig network, IEnumerable<(string ContainerId, string IfName)> validAttachments, CancellationToken cancellation)
    {
        if (network.DisableGc || network.CniVersion < CniVersion.WithStatusAndGc)
        {
            return [];
        }
        var valid = new JsonArray();
        foreach (var (containerId, ifName) in validAttachments)
        {
            valid.Add((JsonNode)new JsonObject { ["containerID"] = containerId, ["ifname"] = ifName });
        }
        var failures = new List<string>();
        foreach (var plugin in network.Plugins)
        {
            var request = Request(network, plugin, null, null);
            request["cni.dev/valid-attachments"] = valid.DeepClone();
            // libcni also sends the key the spec first named (containernetworking/cni #1101).
            request["cni.dev/attachments"] = valid.DeepClone();
            try
            {
                await invoker.InvokeAsync(plugin.Type, new CniInvocation("GC"), request, cancellation);
            }
            catch (BerthException error)
            {
                failures.Add(error.Message);
            }
        }
        return failures;
    }

    private async Task<IReadOnlyList<string>> SupportedVersionsAsync(string type, CniVersion version, CancellationToken cancellation)
    {
        string path = invoker.Require(type);
        var file = new FileInfo(path);
        var key = (path, file.Length, file.LastWriteTimeUtc);
        if (_versions.TryGetValue(key, out var known))
        {
            return known;
        }
        string output = await invoker.InvokeAsync(type, new CniInvocation("VERSION"), new JsonObject { ["cniVersion"] = version.ToString() }, cancellation);
        IReadOnlyList<string> supported;
        try
        {
            supported = JsonNode.Parse(output)?["supportedVersions"]?.AsArray().Select(item => item!.GetValue<string>()).ToList()
                ?? throw new FormatException("no supportedVersions");
        }
        catch (Exception error) when (error is FormatException or InvalidOperationException or System.Text.Json.JsonException)
        {
            throw new CniPluginException(ErrorKind.Unavailable, type, "VERSION", 0, $"CNI plugin {type} (VERSION) gave no version list: {error.Message}");
        }
        _versions[key] = supported;
        return supported;
    }

    /// <summary>
    /// Spec section 3 "Deriving request configuration": the plugin's object as written, with the network's
    /// name and selected cniVersion, prevResult when there is one, and a runtimeConfig of the capability
    /// arguments the plugin declares. "capabilities" stays, as libcni leaves it, since plugins are tested against libcni.
    /// </summary>
    private static JsonObject Request(CniNetworkConfig network, CniPluginConfig plugin, JsonObject? previous, CniAttachmentParameters? attachment)
    {
        var request = (JsonObject)plugin.Json.DeepClone();
        request["cniVersion"] = network.CniVersion.ToString();
        request["name"] = network.Name;
        if (previous is not null)
        {
            request["prevResult"] = previous.DeepClone();
        }
        if (attachment is not null)
        {
            var runtimeConfig = new JsonObject();
            foreach (var (capability, value) in attachment.CapabilityArgs)
            {
                if (plugin.Capabilities.Contains(capability))
                {
                    runtimeConfig[capability] = value?.DeepClone();
                }
            }
            if (runtimeConfig.Count > 0)
            {
                request["runtimeConfig"] = runtimeConfig;
            }
        }
        return request;
    }
}
