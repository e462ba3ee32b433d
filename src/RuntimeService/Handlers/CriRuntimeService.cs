using System.Runtime.CompilerServices;
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

    // A kubelet relist (every second) lists every pod and container; their items change only with their
    // state, so each is built once per state and shared by the calls (an item is never changed once made).
    private static readonly ConditionalWeakTable<Sandbox, Cri.PodSandbox> ListedSandboxes = new();
    private static readonly ConditionalWeakTable<Container, Cri.Container> ListedContainers = new();

    /// <summary>The pod as ListPodSandbox shows it: shared between calls, so never to be changed.</summary>
    private static Cri.PodSandbox ToCri(Sandbox sandbox)
    {
        var state = sandbox.CriState;
        if (ListedSandboxes.TryGetValue(sandbox, out var listed) && listed.State == state)
        {
            return listed;
        }
        var pod = new Cri.PodSandbox
        {
            Id = sandbox.Id,
            Metadata = sandbox.Config.Metadata,
            State = state,
            CreatedAt = sandbox.Record.CreatedAt,
            RuntimeHandler = sandbox.Record.RuntimeHandler,
        };
        pod.Labels.Add(sandbox.Config.Labels);
        pod.Annotations.Add(sandbox.Config.Annotations);
        ListedSandboxes.AddOrUpdate(sandbox, pod);
        return pod;
    }

    /// <summary>The container as ListContainers shows it: shared between calls, so never to be changed.</summary>
    private static Cri.Container ToCri(Container container)
    {
        var state = container.CriState;
        if (ListedContainers.TryGetValue(container, out var listed) && listed.State == state)
        {
            return listed;
        }
        var item = new Cri.Container
        {
            Id = container.Id,
            PodSandboxId = container.Record.SandboxId,
            Metadata = container.Config.Metadata,
            Image = new Cri.ImageSpec { Image = container.Record.ImageName },
            ImageRef = container.Record.ImageId,
            ImageId = container.Record.ImageId,
            State = state,
            CreatedAt = container.Record.CreatedAt,
        };
        item.Labels.Add(container.Config.Labels);
        item.Annotations.Add(container.Config.Annotations);
        ListedContainers.AddOrUpdate(container, item);
        return item;
    }
}
