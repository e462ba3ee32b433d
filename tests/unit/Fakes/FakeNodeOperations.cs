using System.Collections.Concurrent;
using Berth.RuntimeService.Node;
using Berth.Api.Shim.Cgroups;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.Stats;

namespace Berth.Tests.Unit.Fakes;

/// <summary>An <see cref="INodeOperations"/> that keeps mounts and cgroups as sets, so tests see what the managers did to the node.</summary>
internal sealed class FakeNodeOperations : INodeOperations
{
    private readonly object _gate = new();

    public HashSet<string> Mounts { get; } = new(StringComparer.Ordinal);

    /// <summary>Existing cgroups (cgroupfs paths); the shim's creation of a cgroup is simulated by the test adding it.</summary>
    public HashSet<string> Cgroups { get; } = new(StringComparer.Ordinal);

    /// <summary>Every cgroup KillCgroupAsync was asked to kill, in order.</summary>
    public ConcurrentQueue<string> Killed { get; } = new();

    public ConcurrentQueue<string> EnsuredHostPaths { get; } = new();

    public Dictionary<string, DeviceLookup> Devices { get; } = new(StringComparer.Ordinal);

    public void MountTmpfs(string path, string options)
    {
        lock (_gate)
        {
            Mounts.Add(path);
        }
    }

    public void UnmountAll(string path)
    {
        lock (_gate)
        {
            Mounts.Remove(path);
        }
    }

    /// <summary>One v2 tree at /sys/fs/cgroup: what the planners hand the shims, never read here.</summary>
    public IReadOnlyList<CgroupMount> CgroupMounts { get; } = [new("/sys/fs/cgroup", "cgroup2", "/", "0:26", "rw")];

    public bool CgroupExists(string cgroupPath)
    {
        lock (_gate)
        {
            return Cgroups.Contains(cgroupPath);
        }
    }

    public bool CgroupIsEmpty(string cgroupPath)
    {
        lock (_gate)
        {
            return !Cgroups.Any(path => path.StartsWith(cgroupPath + "/", StringComparison.Ordinal));
        }
    }

    public Task KillCgroupAsync(string cgroupPath)
    {
        Killed.Enqueue(cgroupPath);
        lock (_gate)
        {
            Cgroups.RemoveWhere(path => path == cgroupPath || path.StartsWith(cgroupPath + "/", StringComparison.Ordinal));
        }
        return Task.CompletedTask;
    }

    public bool TryRemoveEmptyCgroup(string cgroupPath)
    {
        lock (_gate)
        {
            if (Cgroups.Any(path => path.StartsWith(cgroupPath + "/", StringComparison.Ordinal)))
            {
                return false;
            }
            Cgroups.Remove(cgroupPath);
            return true;
        }
    }

    public DeviceLookup LookUpDevice(string hostPath) => Devices.GetValueOrDefault(hostPath, DeviceLookup.Missing);

    public void EnsureHostPath(string hostPath) => EnsuredHostPaths.Enqueue(hostPath);

    public List<HostDevice> HostDeviceNodes { get; } = [];

    public IReadOnlyList<HostDevice> HostDevices() => HostDeviceNodes;

    /// <summary>The mount each host path lives on; unlisted ones are on a shared "/" (a systemd node's).</summary>
    public Dictionary<string, SourceMount> SourceMounts { get; } = new(StringComparer.Ordinal);

    public (string ResolvedPath, SourceMount? Mount) FindSourceMount(string hostPath) =>
        (hostPath, SourceMounts.GetValueOrDefault(hostPath, new SourceMount("/", MountSharing.Shared)));

    /// <summary>The network namespaces sockets were asked for (null: the host's).</summary>
    public ConcurrentQueue<string?> SocketNamespaces { get; } = new();

    /// <summary>A socket of the test's own namespace: forwarding then reaches a listener on the test's loopback.</summary>
    public System.Net.Sockets.Socket CreateTcpSocket(string? networkNamespace, System.Net.Sockets.AddressFamily family)
    {
        SocketNamespaces.Enqueue(networkNamespace);
        return new System.Net.Sockets.Socket(family, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
    }

    /// <summary>An empty file where the pin would be, counted among <see cref="Mounts"/> as the bind mount is.</summary>
    public void CreateNetworkNamespace(string pinPath)
    {
        File.WriteAllBytes(pinPath, []);
        lock (_gate)
        {
            Mounts.Add(pinPath);
        }
    }

    /// <summary>How many times the default AppArmor profile was asked for.</summary>
    public int AppArmorDefaultLoads { get; private set; }

    public void EnsureAppArmorDefaultProfile() => AppArmorDefaultLoads++;

    /// <summary>What each cgroup has used, as a test sets it; a cgroup not here reads as absent.</summary>
    public ConcurrentDictionary<string, CgroupUsage> Usage { get; } = new(StringComparer.Ordinal);

    /// <summary>The interfaces inside each network namespace, as a test sets them; a namespace not here cannot be entered.</summary>
    public ConcurrentDictionary<string, IReadOnlyList<InterfaceCounters>> Interfaces { get; } = new(StringComparer.Ordinal);

    /// <summary>How many times each cgroup's usage was read.</summary>
    public ConcurrentDictionary<string, int> UsageReads { get; } = new(StringComparer.Ordinal);

    public CgroupUsage? ReadCgroupUsage(string cgroupPath)
    {
        UsageReads.AddOrUpdate(cgroupPath, 1, (_, count) => count + 1);
        return Usage.GetValueOrDefault(cgroupPath);
    }

    public IReadOnlyList<IReadOnlyList<InterfaceCounters>?> ReadInterfaceCounters(IReadOnlyList<PodNetworkNamespace> networkNamespaces) =>
        networkNamespaces.Select(netns => Interfaces.GetValueOrDefault(netns.Pin)).ToList();

    /// <summary>What a shim does when it creates a cgroup: mkdir -p of every level.</summary>
    public void MakeCgroup(string cgroupPath)
    {
        lock (_gate)
        {
            foreach (string level in CgroupPaths.Levels(cgroupPath))
            {
                Cgroups.Add(level);
            }
        }
    }
}
