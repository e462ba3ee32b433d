using Berth.Api.Shim.Cgroups;
using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Pods;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Stats;

/// <summary>
/// Samples as the CRI's ContainerStats and PodSandboxStats, the fields kubelet's CRI stats provider
/// reads (pkg/kubelet/stats/cri_stats_provider.go): a figure the node could not give stays unset (a
/// UInt64Value left null), never 0, so kubelet can tell "none" from "zero".
/// </summary>
public static class CriStats
{
    /// <summary>The interface kubelet takes as the pod's own (containerd's and CRI-O's default).</summary>
    public const string DefaultInterface = "eth0";

    /// <summary>A container's stats from its last two samples; <paramref name="layerFilesystem"/> names the writable layers' filesystem.</summary>
    public static Cri.ContainerStats Container(Container container, SamplePair<ContainerSample> samples, string layerFilesystem)
    {
        var latest = samples.Latest;
        // An exited container's cgroup still holds its last figures (its page cache, its CPU total), which
        // containerd and CRI-O do not report for a container with no running task; crictl stats hides a
        // container whose CPU and memory are both unset.
        bool exited = container.State.Status == Runtime.ProcessStatus.Exited;
        var cgroup = exited ? null : latest.Cgroup;
        var stats = new Cri.ContainerStats
        {
            Attributes = new Cri.ContainerAttributes { Id = container.Id, Metadata = container.Config.Metadata },
            Cpu = exited ? null : Cpu(latest.Timestamp, cgroup, samples.Previous?.Timestamp, samples.Previous?.Cgroup),
            Memory = exited ? null : Memory(latest.Timestamp, cgroup),
        };
        stats.Attributes.Labels.Add(container.Config.Labels);
        stats.Attributes.Annotations.Add(container.Config.Annotations);
        if (latest.WritableLayer is { } layer)
        {
            stats.WritableLayer = new Cri.FilesystemUsage
            {
                Timestamp = latest.Timestamp,
                FsId = new Cri.FilesystemIdentifier { Mountpoint = layerFilesystem },
                UsedBytes = Value(layer.Bytes),
                InodesUsed = Value(layer.Inodes),
            };
        }
        if (cgroup?.Swap is { } swap)
        {
            stats.Swap = new Cri.SwapUsage
            {
                Timestamp = latest.Timestamp,
                SwapUsageBytes = Value(swap.Usage),
                SwapAvailableBytes = Value(swap.Available),
            };
        }
        if (cgroup?.IoPressure is { } io)
        {
            stats.Io = new Cri.IoUsage { Timestamp = latest.Timestamp, Psi = Psi(io) };
        }
        return stats;
    }

    /// <summary>A pod's stats: its pod cgroup's totals, its interfaces, its process count, and its containers' stats.</summary>
    public static Cri.PodSandboxStats Pod(Sandbox sandbox, SamplePair<PodSample> samples, IEnumerable<Cri.ContainerStats> containers)
    {
        var latest = samples.Latest;
        var linux = new Cri.LinuxPodSandboxStats
        {
            Cpu = Cpu(latest.Timestamp, latest.Cgroup, samples.Previous?.Timestamp, samples.Previous?.Cgroup),
            Memory = Memory(latest.Timestamp, latest.Cgroup),
            Process = new Cri.ProcessUsage { Timestamp = latest.Timestamp, ProcessCount = Value(latest.Cgroup?.Processes) },
        };
        if (latest.Interfaces is { } interfaces)
        {
            var network = new Cri.NetworkUsage { Timestamp = latest.Timestamp };
            foreach (var counters in interfaces)
            {
                var usage = new Cri.NetworkInterfaceUsage
                {
                    Name = counters.Name,
                    RxBytes = Value(counters.RxBytes),
                    RxErrors = Value(counters.RxErrors),
                    TxBytes = Value(counters.TxBytes),
                    TxErrors = Value(counters.TxErrors),
                };
                network.Interfaces.Add(usage);
                if (counters.Name == DefaultInterface)
                {
                    network.DefaultInterface = usage;
                }
            }
            linux.Network = network;
        }
        if (latest.Cgroup?.IoPressure is { } io)
        {
            linux.Io = new Cri.IoUsage { Timestamp = latest.Timestamp, Psi = Psi(io) };
        }
        linux.Containers.AddRange(containers);
        var stats = new Cri.PodSandboxStats
        {
            Attributes = new Cri.PodSandboxAttributes { Id = sandbox.Id, Metadata = sandbox.Config.Metadata },
            Linux = linux,
        };
        stats.Attributes.Labels.Add(sandbox.Config.Labels);
        stats.Attributes.Annotations.Add(sandbox.Config.Annotations);
        return stats;
    }

    private static Cri.CpuUsage Cpu(long timestamp, CgroupUsage? cgroup, long? previousTimestamp, CgroupUsage? previous)
    {
        var cpu = new Cri.CpuUsage
        {
            Timestamp = timestamp,
            UsageCoreNanoSeconds = Value(cgroup?.CpuNanoseconds),
            UsageNanoCores = Value(SampleRates.NanoCores(timestamp, cgroup?.CpuNanoseconds, previousTimestamp, previous?.CpuNanoseconds)),
        };
        if (cgroup?.CpuPressure is { } pressure)
        {
            cpu.Psi = Psi(pressure);
        }
        return cpu;
    }

    private static Cri.MemoryUsage Memory(long timestamp, CgroupUsage? cgroup)
    {
        var memory = new Cri.MemoryUsage { Timestamp = timestamp };
        if (cgroup?.Memory is { } figures)
        {
            memory.WorkingSetBytes = Value(figures.WorkingSet);
            memory.AvailableBytes = Value(figures.Available);
            memory.UsageBytes = Value(figures.Usage);
            memory.RssBytes = Value(figures.Rss);
            memory.PageFaults = Value(figures.PageFaults);
            memory.MajorPageFaults = Value(figures.MajorPageFaults);
        }
        if (cgroup?.MemoryPressure is { } pressure)
        {
            memory.Psi = Psi(pressure);
        }
        return memory;
    }

    private static Cri.PsiStats Psi(PressureStall pressure)
    {
        var psi = new Cri.PsiStats { Some = Psi(pressure.Some) };
        if (pressure.Full is { } full)
        {
            psi.Full = Psi(full);
        }
        return psi;
    }

    private static Cri.PsiData Psi(PressureLine line) =>
        new() { Total = line.TotalNanoseconds, Avg10 = line.Avg10, Avg60 = line.Avg60, Avg300 = line.Avg300 };

    private static Cri.UInt64Value? Value(ulong? value) => value is { } v ? new Cri.UInt64Value { Value = v } : null;
}
