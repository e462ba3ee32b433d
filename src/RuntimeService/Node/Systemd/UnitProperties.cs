using System.Globalization;
using Berth.Api.Shim;

namespace Berth.RuntimeService.Node.Systemd;

/// <summary>A value of a systemd unit property, in the D-Bus type systemd declares for it.</summary>
public abstract record UnitValue;

/// <summary>D-Bus <c>s</c>.</summary>
public sealed record UnitString(string Value) : UnitValue;

/// <summary>D-Bus <c>b</c>.</summary>
public sealed record UnitBool(bool Value) : UnitValue;

/// <summary>D-Bus <c>t</c> (systemd's "infinity" is <see cref="ulong.MaxValue"/>).</summary>
public sealed record UnitUInt64(ulong Value) : UnitValue;

/// <summary>D-Bus <c>au</c> (PIDs).</summary>
public sealed record UnitUInt32Array(IReadOnlyList<uint> Value) : UnitValue;

/// <summary>D-Bus <c>ay</c> (a CPU or NUMA node bit mask, byte 0 holding bits 0..7).</summary>
public sealed record UnitBytes(IReadOnlyList<byte> Value) : UnitValue;

/// <summary>D-Bus <c>a(ss)</c> (DeviceAllow: a device path or group, and its access).</summary>
public sealed record UnitPairs(IReadOnlyList<(string First, string Second)> Value) : UnitValue;

/// <summary>One property of a transient unit: a name systemd's D-Bus API knows (systemd.resource-control(5)) and its value.</summary>
public sealed record UnitProperty(string Name, UnitValue Value);

/// <summary>
/// The properties berth gives systemd for a pod slice and a container scope, pure: the facts are runc's
/// systemd driver's (libcontainer/cgroups/systemd common.go, v1.go, v2.go): a scope with Delegate=yes and no
/// default dependencies, accounting on, and the OCI limits as unit properties, converted to what each cgroup
/// version's properties take (shares to CPUWeight, blkio weight to IOWeight, quota to CPUQuotaPerSecUSec
/// rounded up to 10 ms as systemd stores it). What systemd has no property for stays in the files the shim
/// writes.
/// </summary>
public static class UnitProperties
{
    /// <summary>The CFS period when a quota comes without one, in µs (the kernel's default).</summary>
    public const ulong DefaultCpuPeriod = 100_000;

    /// <summary>A transient slice for a pod: a description only; systemd adds the parent slices its name implies.</summary>
    public static IReadOnlyList<UnitProperty> Slice(string description) =>
    [
        new("Description", new UnitString(description)),
        new("DefaultDependencies", new UnitBool(false)),
    ];

    /// <summary>
    /// A transient scope holding <paramref name="pid"/> in <paramref name="slice"/>, with <paramref name="resources"/>
    /// as unit properties for cgroup <paramref name="cgroupVersion"/> (1, hybrid included, or 2).
    /// <paramref name="deviceGroup"/> names a device major as /proc/devices does (136 → "pts"), null when unknown.
    /// </summary>
    public static IReadOnlyList<UnitProperty> Scope(
        string description, string slice, int pid, LinuxResources? resources, int cgroupVersion, Func<char, long, string?> deviceGroup)
    {
        var properties = new List<UnitProperty>
        {
            new("Description", new UnitString(description)),
            new("Slice", new UnitString(slice)),
            new("Delegate", new UnitBool(true)),
            new("DefaultDependencies", new UnitBool(false)),
            new("PIDs", new UnitUInt32Array([checked((uint)pid)])),
            new("MemoryAccounting", new UnitBool(true)),
            new("CPUAccounting", new UnitBool(true)),
            new(cgroupVersion == 2 ? "IOAccounting" : "BlockIOAccounting", new UnitBool(true)),
            new("TasksAccounting", new UnitBool(true)),
        };
        properties.AddRange(Resources(resources, cgroupVersion, deviceGroup));
        return properties;
    }

    /// <summary>
    /// The limits of <paramref name="resources"/> as properties, for a new scope or SetUnitProperties on an
    /// update. Values absent (null, or 0 where 0 means unset as in runc) give no property; -1 is infinity.
    /// </summary>
    public static IReadOnlyList<UnitProperty> Resources(LinuxResources? resources, int cgroupVersion, Func<char, long, string?> deviceGroup)
    {
        var properties = new List<UnitProperty>();
        if (resources is null)
        {
            return properties;
        }
        if (resources.Devices is { } devices)
        {
            properties.AddRange(Devices(devices, deviceGroup));
        }
        bool v2 = cgroupVersion == 2;
        if (resources.Memory is { } memory)
        {
            if (memory.Limit is { } limit and not 0)
            {
                properties.Add(new(v2 ? "MemoryMax" : "MemoryLimit", new UnitUInt64(Infinite(limit))));
            }
            if (v2 && memory.Reservation is { } low and not 0)
            {
                properties.Add(new("MemoryLow", new UnitUInt64(Infinite(low))));
            }
            if (v2 && memory.Swap is { } swap and not 0)
            {
                // OCI's swap is memory+swap; v2's memory.swap.max is swap alone (runc ConvertMemorySwapToCgroupV2Value).
                ulong swapMax = swap == -1 ? ulong.MaxValue
                    : memory.Limit is { } memoryLimit and > 0 && swap >= memoryLimit ? (ulong)(swap - memoryLimit)
                    : throw new ArgumentException($"memory swap {swap} is below the memory limit {memory.Limit}");
                properties.Add(new("MemorySwapMax", new UnitUInt64(swapMax)));
            }
        }
        if (resources.Cpu is { } cpu)
        {
            if (cpu.Shares is { } shares and not 0)
            {
                properties.Add(v2 ? new("CPUWeight", new UnitUInt64(CpuWeight(shares))) : new("CPUShares", new UnitUInt64(shares)));
            }
            long quota = cpu.Quota ?? 0;
            ulong period = cpu.Period ?? 0;
            if (quota != 0 || period != 0)
            {
                if (period != 0)
                {
                    properties.Add(new("CPUQuotaPeriodUSec", new UnitUInt64(period)));
                }
                properties.Add(new("CPUQuotaPerSecUSec", new UnitUInt64(QuotaPerSecond(quota, period))));
            }
            if (v2 && !string.IsNullOrEmpty(cpu.Cpus))
            {
                properties.Add(new("AllowedCPUs", new UnitBytes(CpuMask(cpu.Cpus))));
            }
            if (v2 && !string.IsNullOrEmpty(cpu.Mems))
            {
                properties.Add(new("AllowedMemoryNodes", new UnitBytes(CpuMask(cpu.Mems))));
            }
        }
        if (resources.Pids is { Limit: var pids } && pids is > 0 or -1)
        {
            properties.Add(new("TasksMax", new UnitUInt64(Infinite(pids))));
        }
        if (resources.BlockIO?.Weight is { } weight and not 0)
        {
            properties.Add(v2 ? new("IOWeight", new UnitUInt64(IoWeight(weight))) : new("BlockIOWeight", new UnitUInt64(weight)));
        }
        return properties;
    }

    /// <summary>v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000), the formula runc and kubelet share.</summary>
    public static ulong CpuWeight(ulong shares) => shares <= 2 ? 1 : shares >= 262144 ? 10000 : 1 + (shares - 2) * 9999 / 262142;

    /// <summary>v1 blkio.weight (10..1000) to v2 io.weight (1..10000), runc's ConvertBlkIOToIOWeightValue.</summary>
    public static ulong IoWeight(ushort weight) => weight <= 10 ? 1 : 1 + (ulong)(weight - 10) * 9999 / 990;

    /// <summary>A CFS quota per period as µs of CPU time per second, rounded up to whole 10 ms as systemd keeps it; infinity for no quota.</summary>
    public static ulong QuotaPerSecond(long quota, ulong period)
    {
        if (quota <= 0)
        {
            return ulong.MaxValue;
        }
        ulong perSecond = (ulong)quota * 1_000_000 / (period == 0 ? DefaultCpuPeriod : period);
        return perSecond % 10_000 == 0 ? perSecond : (perSecond / 10_000 + 1) * 10_000;
    }

    /// <summary>A cpuset list ("0-2,5") as systemd's bit mask: byte i holds CPUs 8i..8i+7, lowest bit first.</summary>
    public static byte[] CpuMask(string list)
    {
        var cpus = new List<int>();
        foreach (string part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] range = part.Split('-');
            int first = int.Parse(range[0], CultureInfo.InvariantCulture);
            int last = range.Length == 2 ? int.Parse(range[1], CultureInfo.InvariantCulture) : first;
            if (range.Length > 2 || first < 0 || last < first || last > 8191)
            {
                throw new ArgumentException($"cpuset \"{list}\" is not a list of CPUs such as 0-2,5");
            }
            for (int cpu = first; cpu <= last; cpu++)
            {
                cpus.Add(cpu);
            }
        }
        var mask = new byte[cpus.Count == 0 ? 0 : cpus.Max() / 8 + 1];
        foreach (int cpu in cpus)
        {
            mask[cpu / 8] |= (byte)(1 << (cpu % 8));
        }
        return mask;
    }

    /// <summary>
    /// Device rules as DevicePolicy and DeviceAllow, as runc's systemd devices code: a deny-all rule starts a
    /// strict list, an allow-all rule makes the policy auto (everything), each allow rule one entry
    /// (/dev/char/MAJ:MIN for one device, char-NAME for every minor of a named major, char-* for a whole type).
    /// systemd cannot express other deny rules: they are left to the files the shim wrote. Without these
    /// properties systemd would open every device to a delegated scope on v1.
    /// </summary>
    public static IReadOnlyList<UnitProperty> Devices(IReadOnlyList<LinuxDeviceCgroup> rules, Func<char, long, string?> deviceGroup)
    {
        string policy = "strict";
        var allow = new List<(string, string)>();
        foreach (var rule in rules)
        {
            string type = rule.Type ?? "a";
            bool everything = type == "a" && rule.Major is null or -1 && rule.Minor is null or -1;
            if (!rule.Allow)
            {
                if (everything)
                {
                    policy = "strict";
                    allow.Clear();
                }
                continue;
            }
            if (everything)
            {
                policy = "auto";
                allow.Clear();
            }
            if (policy == "auto")
            {
                // Everything is open already; an entry now would close the list to it.
                continue;
            }
            string access = string.IsNullOrEmpty(rule.Access) ? "rwm" : rule.Access;
            foreach (char kind in type == "a" ? ['c', 'b'] : new[] { type[0] })
            {
                string group = kind == 'c' ? "char" : "block";
                if (rule.Major is null or -1)
                {
                    allow.Add(($"{group}-*", access));
                }
                else if (rule.Minor is null or -1)
                {
                    if (deviceGroup(kind, rule.Major.Value) is { } name)
                    {
                        allow.Add(($"{group}-{name}", access));
                    }
                }
                else
                {
                    allow.Add(($"/dev/{group}/{rule.Major}:{rule.Minor}", access));
                }
            }
        }
        return policy == "auto"
            ? [new("DevicePolicy", new UnitString("auto")), new("DeviceAllow", new UnitPairs([]))]
            : [new("DevicePolicy", new UnitString("strict")), new("DeviceAllow", new UnitPairs(allow))];
    }

    private static ulong Infinite(long value) => value < 0 ? ulong.MaxValue : (ulong)value;
}
