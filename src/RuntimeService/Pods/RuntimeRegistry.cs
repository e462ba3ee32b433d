using System.Collections.Concurrent;
using Berth.Core.Errors;
using Berth.RuntimeService.Containers;

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

    /// <summary>By full ID only (the daemon's own lookups); null when there is none.</summary>
    public Sandbox? SandboxById(string id) => _sandboxes.GetValueOrDefault(id);

    /// <summary>By full ID or unique ID prefix, as crictl lets users type them; null when there is none.</summary>
    public Sandbox? FindSandbox(string id) => Find(_sandboxes, id, "pod sandbox");

    public Container? FindContainer(string id) => Find(_containers, id, "container");

    /// <summary>As <see cref="FindSandbox"/>; NotFound when there is none.</summary>
    public Sandbox RequireSandbox(string id) =>
        FindSandbox(id) ?? throw BerthException.NotFound($"pod sandbox {id} not found");

    /// <summary>As <see cref="FindContainer"/>; NotFound when there is none.</summary>
    public Container RequireContainer(string id) =>
        FindContainer(id) ?? throw BerthException.NotFound($"container {id} not found");

    private static T? Find<T>(ConcurrentDictionary<string, T> items, string id, string what) where T : class
    {
        if (string.IsNullOrEmpty(id))
        {
            throw BerthException.InvalidArgument($"a {what} ID is required");
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
            _ => throw BerthException.InvalidArgument($"{what} ID prefix {id} is ambiguous"),
        };
    }
}
