namespace Berth.RuntimeService.Network;

/// <summary>
/// config.json <c>cni</c>: where the pod network's configuration and plugins are, as containerd's
/// <c>conf_dir</c>/<c>bin_dir</c> and CRI-O's <c>network_dir</c>/<c>plugin_dirs</c>. Settable, not init: the
/// JSON source generator sets what the file holds and leaves the rest at these defaults.
/// </summary>
public sealed record CniSettings
{
    /// <summary>The directory whose first .conf, .conflist or .json file (in byte order of the names) is the pod network.</summary>
    public string ConfDir { get; set; } = "/etc/cni/net.d";

    /// <summary>Directories searched in order for plugin binaries; also the plugins' CNI_PATH.</summary>
    public List<string> BinDirs { get; set; } = ["/opt/cni/bin", "/usr/lib/cni"];

    /// <summary>How long one plugin call (ADD, DEL, CHECK, STATUS, GC, VERSION) may take before the plugin is killed, in seconds.</summary>
    public int PluginTimeoutSeconds { get; set; } = 60;

    /// <summary>
    /// Optional: a network configuration template that UpdateRuntimeConfig's pod CIDR fills, written to
    /// <see cref="TemplateOutputName"/> in <see cref="ConfDir"/>, as containerd's <c>conf_template</c>.
    /// </summary>
    public string? ConfTemplate { get; set; }

    /// <summary>The file a filled <see cref="ConfTemplate"/> becomes (containerd writes 10-containerd-net.conflist).</summary>
    public const string TemplateOutputName = "10-berth-net.conflist";

    /// <summary>The interface every pod gets from the network, as kubelet's runtimes name it.</summary>
    public const string PodInterface = "eth0";
}
