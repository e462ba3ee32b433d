namespace Berth.RuntimeService.Network;

/// <summary>A pod's place on the network: the network's name, its primary IP and the others (dual stack), and the CNI result they came from.</summary>
/// <param name="Result">The final ADD result, JSON, for verbose status.</param>
public sealed record PodNetworkStatus(string NetworkName, string Ip, IReadOnlyList<string> AdditionalIps, string Result);

/// <summary>CRI's NetworkReady condition: false with a reason and a message saying what is missing.</summary>
public sealed record NetworkCondition(bool Ready, string Reason, string Message)
{
    public static NetworkCondition Up { get; } = new(true, "", "");
}

/// <summary>
/// What the sandbox manager asks of the pod network, narrow as CRI-O's ocicni interface is, so the
/// managers are tested with a fake and the CNI side on its own. Calls for one sandbox never overlap
/// (the spec forbids parallel operations on one container); GC runs alone, at start.
/// </summary>
public interface IPodNetwork
{
    /// <summary>
    /// Attaches the pod's netns (<paramref name="netnsPath"/>, its pin) to the network: ADD through the
    /// configured plugins. Throws FailedPrecondition when no usable configuration exists, and the
    /// plugin's own message (Unavailable, DeadlineExceeded) when one fails or hangs; then what was made is
    /// still recorded, so <see cref="TearDownAsync"/> undoes it.
    /// </summary>
    Task<PodNetworkStatus> SetUpAsync(PodNetworkRequest request, string netnsPath, CancellationToken cancellation);

    /// <summary>
    /// Detaches the pod: DEL with what ADD used, the netns passed only while it still exists. Nothing when
    /// the sandbox has no attachment. Throws the plugin's message when DEL fails; the attachment is then kept.
    /// </summary>
    Task TearDownAsync(string sandboxId, string netnsPath, CancellationToken cancellation);

    /// <summary>After a restart: the sandbox's network as its finished ADD left it; null when it has none or its ADD never finished.</summary>
    PodNetworkStatus? Recover(string sandboxId);

    /// <summary>
    /// CHECK of a recovered attachment: null when its interface plugin finds it as ADD left it (or the network
    /// does not CHECK), else what is wrong; chained plugins' CHECK failures are only logged.
    /// </summary>
    Task<string?> CheckAsync(string sandboxId, string netnsPath, CancellationToken cancellation);

    /// <summary>Whether pods can be attached now: a configuration exists, its plugins exist and speak its version, and answer STATUS (1.1).</summary>
    Task<NetworkCondition> ReadinessAsync(CancellationToken cancellation);

    /// <summary>
    /// At start: DEL of every attachment whose sandbox is not in <paramref name="sandboxIds"/> (a crash left
    /// it), then spec 1.1 GC with the attachments that remain. Failures are logged; nothing is thrown.
    /// </summary>
    Task CollectGarbageAsync(IReadOnlySet<string> sandboxIds, CancellationToken cancellation);

    /// <summary>Records kubelet's pod CIDR (comma-separated for dual stack) for ipRanges, and fills the configuration template if one is set.</summary>
    Task SetPodCidrAsync(string podCidr, CancellationToken cancellation);

    /// <summary>What verbose Status shows: configuration directory and file, network name, pod CIDR.</summary>
    IReadOnlyDictionary<string, string> Describe();
}
