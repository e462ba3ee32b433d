using System.Collections.Concurrent;
using Berth.Core.Errors;
using Berth.RuntimeService.Network;

namespace Berth.Tests.Unit.Fakes;

/// <summary>
/// An <see cref="IPodNetwork"/> that hands out 10.0.0.N addresses and keeps attachments in memory as the
/// CNI side keeps them on disk (recorded before ADD, dropped after DEL), so tests see what the managers
/// asked of the network and in what order. It survives <see cref="MiddleLayer.Rebuild"/>, as the files do.
/// </summary>
internal sealed class FakePodNetwork : IPodNetwork
{
    private int _next;

    /// <summary>Attachments by sandbox ID; a null status is an ADD that never finished.</summary>
    public ConcurrentDictionary<string, PodNetworkStatus?> Attachments { get; } = new(StringComparer.Ordinal);

    /// <summary>Every call, in order: "ADD id netns", "DEL id netns", "CHECK id", "GC live-ids".</summary>
    public ConcurrentQueue<string> Calls { get; } = new();

    public BerthException? AddFailure { get; set; }
    public BerthException? DeleteFailure { get; set; }
    public string? CheckFailure { get; set; }
    public NetworkCondition Condition { get; set; } = NetworkCondition.Up;
    public string PodCidr { get; private set; } = "";

    public Task<PodNetworkStatus> SetUpAsync(PodNetworkRequest request, string netnsPath, CancellationToken cancellation)
    {
        Calls.Enqueue($"ADD {request.SandboxId} {netnsPath}");
        Attachments[request.SandboxId] = null;
        if (AddFailure is { } failure)
        {
            throw failure;
        }
        var status = new PodNetworkStatus("fake", $"10.0.0.{Interlocked.Increment(ref _next)}", ["fd00::1"], "{}");
        Attachments[request.SandboxId] = status;
        return Task.FromResult(status);
    }

    public Task TearDownAsync(string sandboxId, string netnsPath, CancellationToken cancellation)
    {
        if (!Attachments.ContainsKey(sandboxId))
        {
            return Task.CompletedTask;
        }
        Calls.Enqueue($"DEL {sandboxId} {netnsPath}");
        if (DeleteFailure is { } failure)
        {
            throw failure;
        }
        Attachments.TryRemove(sandboxId, out _);
        return Task.CompletedTask;
    }

    public PodNetworkStatus? Recover(string sandboxId) => Attachments.GetValueOrDefault(sandboxId);

    public Task<string?> CheckAsync(string sandboxId, string netnsPath, CancellationToken cancellation)
    {
        Calls.Enqueue($"CHECK {sandboxId}");
        return Task.FromResult(CheckFailure);
    }

    public Task<NetworkCondition> ReadinessAsync(CancellationToken cancellation) => Task.FromResult(Condition);

    public Task CollectGarbageAsync(IReadOnlySet<string> sandboxIds, CancellationToken cancellation)
    {
        Calls.Enqueue($"GC {string.Join(",", sandboxIds.Order())}");
        foreach (string id in Attachments.Keys.Where(id => !sandboxIds.Contains(id)))
        {
            Attachments.TryRemove(id, out _);
        }
        return Task.CompletedTask;
    }

    public Task SetPodCidrAsync(string podCidr, CancellationToken cancellation)
    {
        PodCidr = podCidr;
        return Task.CompletedTask;
    }

    public IReadOnlyDictionary<string, string> Describe() => new Dictionary<string, string> { ["network"] = "fake" };
}
