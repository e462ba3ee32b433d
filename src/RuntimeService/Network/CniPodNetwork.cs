using System.Net;
using System.Text;
using Berth.Api.Shim;
using Berth.Core.Errors;

namespace Berth.RuntimeService.Network;

/// <summary>
/// The pod network through CNI, the job libcni and go-cni do for containerd and ocicni for CRI-O: the
/// configuration is the first file of the conf dir, read again at every use (so changes apply without a
/// restart); every attachment is recorded under berthd's root before its ADD and deleted after its
/// DEL; GC at start reclaims what a crash left. See <see cref="IPodNetwork"/> for each call's contract.
/// </summary>
public sealed class CniPodNetwork : IPodNetwork
{
    public const string NotReadyReason = "NetworkPluginNotReady";

    private readonly ILogger<CniPodNetwork> _logger;
    /// <summary>The settings in force and the plugin runtime made from them, swapped whole by <see cref="Reconfigure"/>.</summary>
    private volatile Plugins _plugins;
    private readonly CniAttachmentStore _store;
    private readonly string _podCidrFile;
    /// <summary>At most this many CHECKs at once when a restart recovers many pods (two cores must keep serving).</summary>
    private readonly SemaphoreSlim _checks = new(4, 4);
    private volatile IReadOnlyList<string> _podCidrs;

    /// <param name="networkDirectory">Where attachments and the pod CIDR are kept: under berthd's root, since a reboot does not release what they describe.</param>
    public CniPodNetwork(CniSettings settings, string networkDirectory, ILogger<CniPodNetwork> logger)
    {
        _logger = logger;
        _plugins = new Plugins(settings, logger);
        _store = new CniAttachmentStore(Path.Combine(networkDirectory, "attachments"));
        _podCidrFile = Path.Combine(networkDirectory, "pod-cidr");
        _podCidrs = File.Exists(_podCidrFile) ? ParseCidrs(File.ReadAllText(_podCidrFile).Trim()) : [];
    }

    /// <summary>
    /// The network pods get now: the first .conflist, .conf or .json file of the conf dir in byte order of
    /// the names (containerd's go-cni and CRI-O's ocicni sort the same way); a broken first file is an
    /// error rather than skipped, as in containerd, so what is used is always what is first.
    /// </summary>
    public CniNetworkConfig LoadNetwork() => LoadNetwork(_plugins.Settings);

    /// <summary>
    /// Takes new <c>cni</c> settings (a configuration reload): the next ADD, STATUS, GC and template fill use the new
    /// conf dir, plugin directories and timeout. Pods already on the network keep their attachment: DEL and CHECK
    /// use the configuration recorded at their ADD, with its plugins looked up in the directories in force when they run.
    /// </summary>
    public void Reconfigure(CniSettings settings) => _plugins = new Plugins(settings, _logger);

    private static CniNetworkConfig LoadNetwork(CniSettings settings)
    {
        string directory = settings.ConfDir;
        string? first = Directory.Exists(directory)
            ? Directory.EnumerateFiles(directory)
                .Where(file => CniNetworkConfig.Extensions.Contains(Path.GetExtension(file)))
                .Order(StringComparer.Ordinal)
                .FirstOrDefault()
            : null;
        if (first is null)
        {
            throw new CniConfigException($"no CNI network configuration in {directory}");
        }
        string text;
        try
        {
            text = File.ReadAllText(first);
        }
        catch (IOException error)
        {
            throw new CniConfigException($"{first}: {error.Message}");
        }
        return CniNetworkConfig.Parse(text, first);
    }

    public async Task<PodNetworkStatus> SetUpAsync(PodNetworkRequest request, string netnsPath, CancellationToken cancellation)
    {
        var plugins = _plugins;
        var network = Current(plugins.Settings);
        var attachment = new CniAttachment(CniAttachment.CurrentKind, request.SandboxId, request.SandboxId, CniSettings.PodInterface,
            netnsPath, network.Name, network.ToListJson(), request.CniArgs, request.CapabilityArgs(_podCidrs), Result: null);
        // Recorded before ADD: a daemon killed during ADD must still DEL what the plugins made.
        _store.Write(attachment);
        var result = await plugins.Runtime.AddAsync(network, attachment.Parameters(netnsPath), cancellation);
        _store.Write(attachment with { Result = result.Json });
        var status = Status(network.Name, result);
        if (status.Ip.Length == 0)
        {
            throw BerthException.FailedPrecondition(
                $"network {network.Name} ({network.Source}) gave the pod's interface {CniSettings.PodInterface} no IP address; its result: {result.Json.ToJsonString()}");
        }
        _logger.LogInformation("Pod sandbox {Id} is on network {Network} with IP {Ip}", request.SandboxId, network.Name, string.Join(", ", [status.Ip, .. status.AdditionalIps]));
        return status;
    }

    public async Task TearDownAsync(string sandboxId, string netnsPath, CancellationToken cancellation)
    {
        if (_store.Read(sandboxId) is not { } attachment)
        {
            return;
        }
        var network = AttachedNetwork(attachment);
        string usable = NetworkNamespace.IsLive(netnsPath) ? netnsPath : "";
        await _plugins.Runtime.DeleteAsync(network, attachment.Parameters(usable), attachment.Result, cancellation);
        _store.Delete(sandboxId);
        _logger.LogInformation("Pod sandbox {Id} left network {Network}{Netns}", sandboxId, network.Name, usable.Length == 0 ? " (its netns was already gone)" : "");
    }

    public PodNetworkStatus? Recover(string sandboxId)
    {
        if (_store.Read(sandboxId) is not { Result: { } result } attachment)
        {
            return null;
        }
        try
        {
            return Status(attachment.NetworkName, CniResult.FromJson(result));
        }
        catch (FormatException error)
        {
            _logger.LogWarning("Pod sandbox {Id}: its recorded CNI result cannot be read: {Error}", sandboxId, error.Message);
            return null;
        }
    }

    public async Task<string?> CheckAsync(string sandboxId, string netnsPath, CancellationToken cancellation)
    {
        if (_store.Read(sandboxId) is not { Result: { } result } attachment)
        {
            return "it has no finished network attachment";
        }
        await _checks.WaitAsync(cancellation);
        try
        {
            foreach (string advisory in await _plugins.Runtime.CheckAsync(AttachedNetwork(attachment), attachment.Parameters(netnsPath), result, cancellation))
            {
                _logger.LogWarning("Pod sandbox {Id}: a chained CNI plugin failed CHECK (the pod stays ready): {Error}", sandboxId, advisory);
            }
            return null;
        }
        catch (BerthException error)
        {
            return error.Message;
        }
        finally
        {
            _checks.Release();
        }
    }

    public async Task<NetworkCondition> ReadinessAsync(CancellationToken cancellation)
    {
        try
        {
            var plugins = _plugins;
            await plugins.Runtime.ProbeAsync(LoadNetwork(plugins.Settings), cancellation);
            return NetworkCondition.Up;
        }
        catch (Exception error) when (error is CniConfigException or BerthException)
        {
            return new NetworkCondition(false, NotReadyReason, error.Message);
        }
    }

    public async Task CollectGarbageAsync(IReadOnlySet<string> sandboxIds, CancellationToken cancellation)
    {
        foreach (string id in _store.SandboxIds().Where(id => !sandboxIds.Contains(id)))
        {
            if (_store.Read(id) is not { } attachment)
            {
                _logger.LogWarning("Removing {Id}.json from {Directory}: it is not an attachment berthd can read", id, _store.Directory);
                _store.Delete(id);
                continue;
            }
            try
            {
                await TearDownAsync(id, attachment.NetnsPath, cancellation);
                _logger.LogInformation("Deleted the network attachment of pod sandbox {Id}, which no longer exists", id);
            }
            catch (Exception error) when (error is BerthException or CniConfigException)
            {
                _logger.LogWarning("Deleting the network attachment of the gone pod sandbox {Id} failed (kept for the next start): {Error}", id, error.Message);
            }
        }
        var plugins = _plugins;
        CniNetworkConfig network;
        try
        {
            network = LoadNetwork(plugins.Settings);
        }
        catch (CniConfigException)
        {
            return;
        }
        var valid = _store.SandboxIds().Select(_store.Read).OfType<CniAttachment>()
            .Where(attachment => attachment.NetworkName == network.Name)
            .Select(attachment => (attachment.ContainerId, attachment.IfName));
        foreach (string failure in await plugins.Runtime.CollectGarbageAsync(network, valid, cancellation))
        {
            _logger.LogWarning("CNI GC of network {Network}: {Error}", network.Name, failure);
        }
    }

    public Task SetPodCidrAsync(string podCidr, CancellationToken cancellation)
    {
        var cidrs = ParseCidrs(podCidr);
        var settings = _plugins.Settings;
        if (settings.ConfTemplate is { } template && cidrs.Count > 0)
        {
            string output = Path.Combine(settings.ConfDir, CniSettings.TemplateOutputName);
            string text;
            try
            {
                text = CniConfTemplate.Render(File.ReadAllText(template), cidrs, template);
            }
            catch (Exception error) when (error is CniConfigException or IOException)
            {
                throw BerthException.FailedPrecondition($"the CNI configuration template cannot be filled with pod CIDR {podCidr}: {error.Message}");
            }
            Directory.CreateDirectory(settings.ConfDir);
            AtomicFile.Write(output, Encoding.UTF8.GetBytes(text));
            _logger.LogInformation("Wrote {Output} from the template {Template} for pod CIDR {PodCidr}", output, template, podCidr);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(_podCidrFile)!);
        AtomicFile.Write(_podCidrFile, Encoding.UTF8.GetBytes(string.Join(',', cidrs)));
        _podCidrs = cidrs;
        return Task.CompletedTask;
    }

    public IReadOnlyDictionary<string, string> Describe()
    {
        var settings = _plugins.Settings;
        var info = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["confDir"] = settings.ConfDir,
            ["binDirs"] = string.Join(':', settings.BinDirs),
            ["podCidr"] = string.Join(',', _podCidrs),
        };
        try
        {
            var network = LoadNetwork(settings);
            info["configFile"] = network.Source;
            info["network"] = network.Name;
            info["cniVersion"] = network.CniVersion.ToString();
        }
        catch (CniConfigException error)
        {
            info["configError"] = error.Message;
        }
        return info;
    }

    private static CniNetworkConfig Current(CniSettings settings)
    {
        try
        {
            return LoadNetwork(settings);
        }
        catch (CniConfigException error)
        {
            throw BerthException.FailedPrecondition($"the pod network is not ready: {error.Message}");
        }
    }

    /// <summary>One generation of the <c>cni</c> settings with the plugin runtime that uses them.</summary>
    private sealed class Plugins(CniSettings settings, ILogger logger)
    {
        public CniSettings Settings { get; } = settings;

        public CniRuntime Runtime { get; } =
            new(new CniPluginInvoker(settings.BinDirs, TimeSpan.FromSeconds(settings.PluginTimeoutSeconds), logger));
    }

    private static CniNetworkConfig AttachedNetwork(CniAttachment attachment)
    {
        try
        {
            return CniNetworkConfig.ParseList(attachment.Network.ToJsonString(), $"the recorded configuration of network {attachment.NetworkName}");
        }
        catch (CniConfigException error)
        {
            throw BerthException.Internal(error.Message);
        }
    }

    private static PodNetworkStatus Status(string networkName, CniResult result)
    {
        var ips = result.PodIps(CniSettings.PodInterface).Select(ip => ip.ToString()).ToList();
        return new PodNetworkStatus(networkName, ips.FirstOrDefault() ?? "", ips.Skip(1).ToList(), result.Json.ToJsonString());
    }

    /// <summary>kubelet's pod CIDR: one CIDR, or two separated by a comma for dual stack. Throws InvalidArgument for anything else.</summary>
    private static List<string> ParseCidrs(string podCidr)
    {
        var cidrs = new List<string>();
        foreach (string part in podCidr.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!IPNetwork.TryParse(part, out var network))
            {
                throw BerthException.InvalidArgument($"pod CIDR '{part}' is not a network in CIDR notation such as 10.244.1.0/24");
            }
            cidrs.Add(network.ToString());
        }
        return cidrs;
    }
}
