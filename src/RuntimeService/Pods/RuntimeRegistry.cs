using System.Collections.Concurrent;
using Berth.RuntimeService.Containers;
using Grpc.Core;

namespace Berth.RuntimeService.Pods;

/// <summary>The sandboxes and containers of this node, in memory, rebuilt from the store and the shims at start.</summary>
public sealed class RuntimeRegistry
{
    private readonly ConcurrentDictionary<string, Sandbox> _sandboxes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Container> _containers = new(StringComparer.Ordinal);

    public ICollection<Sandbox> Sandboxes => _sandboxes.Values;
    public ICollection<Container> Containers => _containers.Values;

    public void Add(Sandbox sandbox) => _sandboxes[sandbox.Id] = sandbox;
    public void Add(Container container) => _containers[container.Id] = container;
    public void Remove(Sandbox sandbox) => _sandboxes.TryRemove(sandbox.Id, out _);
    public void Remove(Container container) => _containers.TryRemove(container.Id, out _);

    public IEnumerable<Container> ContainersOf(string sandboxId) => _containers.Values.Where(container => container.Record.SandboxId == sandboxId);

    /// <summary>By full ID or unique ID prefix, as crictl lets users type them; null when there is none.</summary>
    public Sandbox? FindSandbox(string id) => Find(_sandboxes, id, "pod sandbox");

    public Container? FindContainer(string id) => Find(_containers, id, "container");

    public Sandbox RequireSandbox(string id) =>
        FindSandbox(id) ?? throw new RpcException(new Status(StatusCode.NotFound, $"pod sandbox {id} not found"));

    public Container RequireContainer(string id) =>
        FindContainer(id) ?? throw new RpcException(new Status(StatusCode.NotFound, $"container {id} not found"));

    private static T? Find<T>(ConcurrentDictionary<string, T> items, string id, string what) where T : class
    {
        if (string.IsNullOrEmpty(id))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"a {what} ID is required"));
        }
        if (items.TryGetValue(id, out var exact))
        {
            return exact;
        }
        var matches = items.Where(pair => pair.Key.StartsWith(id, StringComparison.Ordinal)).Take(2).ToList();
        return matches.Count switch
        {
            1 => matches[0].Value,
            0 => null,
            _ => throw new RpcException(new Status(StatusCode.InvalidArgument, $"{what} ID prefix {id} is ambiguous")),
        };
    }
}
