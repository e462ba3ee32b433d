using Berth.RuntimeService.Configuration;
using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Events;
using Berth.RuntimeService.Network;
using Berth.RuntimeService.Pods;
using Berth.RuntimeService.Stats;
using Berth.RuntimeService.Streaming;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

/// <summary>
/// The CRI RuntimeService: one partial file per RPC, each thin. RPCs not overridden here answer
/// UNIMPLEMENTED (the generated base does, and the call interceptor names the method).
/// </summary>
public sealed partial class CriRuntimeService(
    ConfigReload configuration, RuntimeRegistry registry, SandboxManager sandboxes, ContainerManager containers, PodLifecycle pods, IPodNetwork network,
    StreamingServer streaming, StatsCollector stats, ContainerEvents events, IHostApplicationLifetime lifetime, ILogger<CriRuntimeService> logger) : Cri.RuntimeService.RuntimeServiceBase
{
    public const string RuntimeName = "berth";
    public const string RuntimeApiVersion = "v1";
    // The CRI version kubelet compares against; "0.1.0" is what every CRI runtime reports here.
    public const string KubeletApiVersion = "0.1.0";

    public static string RuntimeVersion { get; } =
        typeof(CriRuntimeService).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>Work that must not stop half way when kubelet's call is cancelled: only the daemon's own shutdown stops it.</summary>
    private CancellationToken DaemonStopping => lifetime.ApplicationStopping;

    private static bool LabelsMatch(IDictionary<string, string> selector, IDictionary<string, string> labels) =>
        selector.All(pair => labels.TryGetValue(pair.Key, out var value) && value == pair.Value);

    private static Cri.PodSandbox ToCri(Sandbox sandbox)
    {
        var pod = new Cri.PodSandbox
        {
            Id = sandbox.Id,
            Metadata = sandbox.Config.Metadata,
            State = sandbox.CriState,
            CreatedAt = sandbox.Record.CreatedAt,
            RuntimeHandler = sandbox.Record.RuntimeHandler,
        };
        pod.Labels.Add(sandbox.Config.Labels);
        pod.Annotations.Add(sandbox.Config.Annotations);
        return pod;
    }

    private static Cri.Container ToCri(Container container)
    {
        var item = new Cri.Container
        {
            Id = container.Id,
            PodSandboxId = container.Record.SandboxId,
            Metadata = container.Config.Metadata,
            Image = new Cri.ImageSpec { Image = container.Record.ImageName },
            ImageRef = container.Record.ImageId,
            ImageId = container.Record.ImageId,
            State = container.CriState,
            CreatedAt = container.Record.CreatedAt,
        };
        item.Labels.Add(container.Config.Labels);
        item.Annotations.Add(container.Config.Annotations);
        return item;
    }
}
