using Berth.Api.Shim;

namespace Berth.Shim.Cgroups;

/// <summary>Which controllers a LinuxResources asks something of (0 and null mean "leave as is", as in runc).</summary>
internal static class CgroupRequests
{
    public static bool Memory(LinuxResources r) =>
        r.Memory is { } m && (m.Limit is not (null or 0) || m.Reservation is not (null or 0) || m.Swap is not (null or 0)
            || m.Swappiness is not null || m.DisableOOMKiller == true);

    public static bool Cpu(LinuxResources r) =>
        r.Cpu is { } c && (c.Shares is not (null or 0) || c.Quota is not (null or 0) || c.Period is not (null or 0)
            || c.Burst is not null || c.RealtimeRuntime is not (null or 0) || c.RealtimePeriod is not (null or 0) || c.Idle is not null);

    public static bool Cpuset(LinuxResources r) =>
        r.Cpu is { } c && (!string.IsNullOrEmpty(c.Cpus) || !string.IsNullOrEmpty(c.Mems));

    public static bool BlockIO(LinuxResources r) =>
        r.BlockIO is { } b && (b.Weight is not (null or 0) || b.LeafWeight is not (null or 0) || b.WeightDevice is { Count: > 0 }
            || b.ThrottleReadBpsDevice is { Count: > 0 } || b.ThrottleWriteBpsDevice is { Count: > 0 }
            || b.ThrottleReadIOPSDevice is { Count: > 0 } || b.ThrottleWriteIOPSDevice is { Count: > 0 });

    public static bool Pids(LinuxResources r) => r.Pids is not null;

    public static bool Devices(LinuxResources r) => r.Devices is not null;

    public static bool Unified(LinuxResources r) => r.Unified is { Count: > 0 };
}
