using Berth.Api.Shim.Cgroups;
using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Pods;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Stats;

/// <summary>
/// ListMetricDescriptors and ListPodSandboxMetrics: the samples under cAdvisor's metric names, help texts
/// and types (cAdvisor's metrics/prometheus.go, as kubelet serves them at /metrics/cadvisor), which kubelet
/// re-exports when it takes pod metrics from the runtime. Label keys are containerd 2.x's
/// (internal/cri/server/list_metric_descriptors.go): pod, namespace, container, id (the container's ID, or
/// the sandbox's for the pod's own rows), image (as the user asked for it), then interface, device or
/// failure_type and scope. Beyond containerd, the pod's own cgroup totals are sent with container "" as
/// cAdvisor sends them. Values are the CRI's unsigned integers, so "seconds" counters are whole seconds,
/// as containerd and CRI-O send them.
/// </summary>
public static class CadvisorMetrics
{
    private static readonly string[] BaseLabels = ["pod", "namespace", "container", "id", "image"];

    /// <summary>The device label of the writable layer's figures, as containerd sends it.</summary>
    private const string LayerDevice = "/";

    private enum Scope
    {
        /// <summary>A cgroup's own figures: the pod cgroup's and each container's.</summary>
        Cgroup,

        /// <summary>A container's only.</summary>
        Container,

        /// <summary>The pod's network interfaces.</summary>
        Network,
    }

    private sealed record Spec(string Name, string Help, Cri.MetricType Type, Scope Scope, string[] ExtraLabels);

    private static readonly Spec[] Specs =
    [
        new("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", Cri.MetricType.Counter, Scope.Cgroup, []),
        new("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed", Cri.MetricType.Gauge, Scope.Cgroup, []),
        new("container_memory_working_set_bytes", "Current working set in bytes.", Cri.MetricType.Gauge, Scope.Cgroup, []),
        new("container_memory_rss", "Size of RSS in bytes.", Cri.MetricType.Gauge, Scope.Cgroup, []),
        new("container_memory_cache", "Number of bytes of page cache memory.", Cri.MetricType.Gauge, Scope.Cgroup, []),
        new("container_memory_mapped_file", "Size of memory mapped files in bytes.", Cri.MetricType.Gauge, Scope.Cgroup, []),
        new("container_memory_swap", "Container swap usage in bytes.", Cri.MetricType.Gauge, Scope.Cgroup, []),
        new("container_memory_failcnt", "Number of memory usage hits limits", Cri.MetricType.Counter, Scope.Cgroup, []),
        new("container_memory_failures_total", "Cumulative count of memory allocation failures.", Cri.MetricType.Counter, Scope.Cgroup, ["failure_type", "scope"]),
        new("container_spec_memory_limit_bytes", "Memory limit for the container.", Cri.MetricType.Gauge, Scope.Cgroup, []),
        new("container_processes", "Number of processes running inside the container.", Cri.MetricType.Gauge, Scope.Cgroup, []),
        new("container_pressure_cpu_waiting_seconds_total", "Total time duration tasks in the container have waited due to CPU congestion.", Cri.MetricType.Counter, Scope.Cgroup, []),
        new("container_pressure_cpu_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to CPU congestion.", Cri.MetricType.Counter, Scope.Cgroup, []),
        new("container_pressure_memory_waiting_seconds_total", "Total time duration tasks in the container have waited due to memory congestion.", Cri.MetricType.Counter, Scope.Cgroup, []),
        new("container_pressure_memory_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to memory congestion.", Cri.MetricType.Counter, Scope.Cgroup, []),
        new("container_pressure_io_waiting_seconds_total", "Total time duration tasks in the container have waited due to IO congestion.", Cri.MetricType.Counter, Scope.Cgroup, []),
        new("container_pressure_io_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to IO congestion.", Cri.MetricType.Counter, Scope.Cgroup, []),
        new("container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.", Cri.MetricType.Gauge, Scope.Container, ["device"]),
        new("container_fs_inodes_used", "Number of inodes that are consumed by the container on this filesystem.", Cri.MetricType.Gauge, Scope.Container, ["device"]),
        new("container_start_time_seconds", "Start time of the container since unix epoch in seconds.", Cri.MetricType.Gauge, Scope.Container, []),
        new("container_network_receive_bytes_total", "Cumulative count of bytes received", Cri.MetricType.Counter, Scope.Network, ["interface"]),
        new("container_network_receive_packets_total", "Cumulative count of packets received", Cri.MetricType.Counter, Scope.Network, ["interface"]),
        new("container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving", Cri.MetricType.Counter, Scope.Network, ["interface"]),
        new("container_network_receive_errors_total", "Cumulative count of errors encountered while receiving", Cri.MetricType.Counter, Scope.Network, ["interface"]),
        new("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", Cri.MetricType.Counter, Scope.Network, ["interface"]),
        new("container_network_transmit_packets_total", "Cumulative count of packets transmitted", Cri.MetricType.Counter, Scope.Network, ["interface"]),
        new("container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting", Cri.MetricType.Counter, Scope.Network, ["interface"]),
        new("container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting", Cri.MetricType.Counter, Scope.Network, ["interface"]),
    ];

    /// <summary>Every metric ListPodSandboxMetrics may send, with its label keys in the order the values come.</summary>
    public static IEnumerable<Cri.MetricDescriptor> Descriptors() => Specs.Select(spec =>
    {
        var descriptor = new Cri.MetricDescriptor { Name = spec.Name, Help = spec.Help };
        descriptor.LabelKeys.AddRange(BaseLabels);
        descriptor.LabelKeys.AddRange(spec.ExtraLabels);
        return descriptor;
    });

    /// <summary>The metrics of one pod: its pod cgroup and interfaces, then each of its containers.</summary>
    public static Cri.PodSandboxMetrics Pod(Sandbox sandbox, PodSample pod, IEnumerable<(Container Container, ContainerSample Sample)> containers)
    {
        var metadata = sandbox.Config.Metadata;
        string[] podLabels = [metadata?.Name ?? "", metadata?.Namespace ?? "", "", sandbox.Id, ""];
        var metrics = new Cri.PodSandboxMetrics { PodSandboxId = sandbox.Id };
        AddCgroup(metrics.Metrics, pod.Timestamp, pod.Cgroup, podLabels);
        foreach (var counters in pod.Interfaces ?? [])
        {
            string[] labels = [.. podLabels, counters.Name];
            ulong[] values = [counters.RxBytes, counters.RxPackets, counters.RxDropped, counters.RxErrors,
                counters.TxBytes, counters.TxPackets, counters.TxDropped, counters.TxErrors];
            var network = Specs.Where(spec => spec.Scope == Scope.Network).ToList();
            for (int i = 0; i < network.Count; i++)
            {
                metrics.Metrics.Add(Metric(network[i], pod.Timestamp, values[i], labels));
            }
        }
        foreach (var (container, sample) in containers)
        {
            string[] labels = [metadata?.Name ?? "", metadata?.Namespace ?? "", container.Config.Metadata?.Name ?? "", container.Id,
                container.Config.Image?.Image ?? ""];
            var item = new Cri.ContainerMetrics { ContainerId = container.Id };
            AddCgroup(item.Metrics, sample.Timestamp, sample.Cgroup, labels);
            if (sample.WritableLayer is { } layer)
            {
                item.Metrics.Add(Metric(Find("container_fs_usage_bytes"), sample.Timestamp, layer.Bytes, [.. labels, LayerDevice]));
                item.Metrics.Add(Metric(Find("container_fs_inodes_used"), sample.Timestamp, layer.Inodes, [.. labels, LayerDevice]));
            }
            if (container.State.StartedAt > 0)
            {
                item.Metrics.Add(Metric(Find("container_start_time_seconds"), sample.Timestamp, (ulong)(container.State.StartedAt / 1_000_000_000), labels));
            }
            metrics.ContainerMetrics.Add(item);
        }
        return metrics;
    }

    private static void AddCgroup(ICollection<Cri.Metric> metrics, long timestamp, CgroupUsage? usage, string[] labels)
    {
        if (usage is null)
        {
            return;
        }
        void Add(string name, ulong? value, params string[] extra)
        {
            if (value is { } v)
            {
                metrics.Add(Metric(Find(name), timestamp, v, extra.Length == 0 ? labels : [.. labels, .. extra]));
            }
        }
        Add("container_cpu_usage_seconds_total", usage.CpuNanoseconds / 1_000_000_000);
        if (usage.Memory is { } memory)
        {
            Add("container_memory_usage_bytes", memory.Usage);
            Add("container_memory_working_set_bytes", memory.WorkingSet);
            Add("container_memory_rss", memory.Rss);
            Add("container_memory_cache", memory.Cache);
            Add("container_memory_mapped_file", memory.MappedFile);
            Add("container_memory_failcnt", memory.FailCount);
            // Scope "container", as containerd labels them (the counters are memory.stat's hierarchical ones).
            Add("container_memory_failures_total", memory.PageFaults, "pgfault", "container");
            Add("container_memory_failures_total", memory.MajorPageFaults, "pgmajfault", "container");
            Add("container_spec_memory_limit_bytes", memory.Limit ?? 0);
        }
        Add("container_memory_swap", usage.Swap?.Usage);
        Add("container_processes", usage.Processes);
        Add("container_pressure_cpu_waiting_seconds_total", usage.CpuPressure?.Some.TotalNanoseconds / 1_000_000_000);
        Add("container_pressure_cpu_stalled_seconds_total", usage.CpuPressure?.Full?.TotalNanoseconds / 1_000_000_000);
        Add("container_pressure_memory_waiting_seconds_total", usage.MemoryPressure?.Some.TotalNanoseconds / 1_000_000_000);
        Add("container_pressure_memory_stalled_seconds_total", usage.MemoryPressure?.Full?.TotalNanoseconds / 1_000_000_000);
        Add("container_pressure_io_waiting_seconds_total", usage.IoPressure?.Some.TotalNanoseconds / 1_000_000_000);
        Add("container_pressure_io_stalled_seconds_total", usage.IoPressure?.Full?.TotalNanoseconds / 1_000_000_000);
    }

    private static Spec Find(string name) => Specs.First(spec => spec.Name == name);

    private static Cri.Metric Metric(Spec spec, long timestamp, ulong value, string[] labels)
    {
        var metric = new Cri.Metric { Name = spec.Name, Timestamp = timestamp, MetricType = spec.Type, Value = new Cri.UInt64Value { Value = value } };
        metric.LabelValues.AddRange(labels);
        return metric;
    }
}
