using Berth.Api.Shim.Cgroups;
using System.Globalization;
using Berth.Api.Shim;

namespace Berth.Shim.Cgroups;

/// <summary>
/// The pure mappings from the OCI resource model to control-file values, with runc's
/// conversions where v1 and v2 differ. Invalid input throws <see cref="InvalidSpecException"/>.
/// </summary>
internal static class CgroupConversions
{
    /// <summary>
    /// v1 cpu.shares [2, 262144] to v2 cpu.weight [1, 10000], runc's linear conversion
    /// (libcontainer/cgroups ConvertCPUSharesToCgroupV2Value): 2 → 1, 1024 → 39, 262144 → 10000.
    /// 0 means unset and stays 0. (runc 1.3 / crun 1.23 moved to a quadratic curve on log2(shares)
    /// that maps 1024 to 100; kubelet's own v2 code and the daemon's expectations follow the linear one.)
    /// </summary>
    public static ulong CpuSharesToWeight(ulong shares)
    {
        if (shares == 0)
        {
            return 0;
        }
        shares = Math.Clamp(shares, 2UL, 262144UL);
        return 1 + ((shares - 2) * 9999) / 262142;
    }

    /// <summary>
    /// v1 blkio.weight [10, 1000] to v2 io.weight [1, 10000], runc's ConvertBlkIOToIOWeightValue:
    /// 10 → 1, 500 → 4950, 1000 → 10000. 0 means unset and stays 0.
    /// </summary>
    public static ulong BlkioWeightToIoWeight(ulong weight)
    {
        if (weight == 0)
        {
            return 0;
        }
        weight = Math.Clamp(weight, 10UL, 1000UL);
        return 1 + (weight - 10) * 9999 / 990;
    }

    /// <summary>
    /// The OCI swap value (memory + swap, the v1 memsw meaning) to v2 memory.swap.max (swap only),
    /// as runc's ConvertMemorySwapToCgroupV2Value: -1 is unlimited, 0 unset. Unlimited memory with
    /// swap unset means both unlimited.
    /// </summary>
    public static long MemorySwapToV2(long memorySwap, long memory)
    {
        if (memory == -1 && memorySwap == 0)
        {
            return -1;
        }
        if (memorySwap is -1 or 0)
        {
            return memorySwap;
        }
        if (memory is 0 or -1)
        {
            throw new InvalidSpecException("a swap limit needs a memory limit");
        }
        if (memory < 0 || memorySwap < 0)
        {
            throw new InvalidSpecException($"invalid memory ({memory}) or swap ({memorySwap}) value");
        }
        if (memorySwap < memory)
        {
            throw new InvalidSpecException($"memory+swap limit ({memorySwap}) must be at least the memory limit ({memory})");
        }
        return memorySwap - memory;
    }

    /// <summary>
    /// The memory.swap.max text for a LinuxMemory, or null to leave it: runc writes "0" when swap
    /// equals the limit (no swap at all), "max" for -1.
    /// </summary>
    public static string? SwapMaxV2(long? memorySwap, long? memory)
    {
        long swap = MemorySwapToV2(memorySwap ?? 0, memory ?? 0);
        string? text = V2Number(swap);
        if (text is null && swap == 0 && memorySwap > 0)
        {
            text = "0";
        }
        return text;
    }

    /// <summary>runc's numToStr for v2 files: 0 is unset (null), negative is "max".</summary>
    public static string? V2Number(long value) => value switch
    {
        0 => null,
        < 0 => "max",
        _ => value.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// v2 cpu.max: "quota period", "max period", or the quota alone when no period is given (the
    /// kernel keeps its period); null when neither is set. A quota of 0 is unset, negative unlimited.
    /// </summary>
    public static string? CpuMax(long? quota, ulong? period)
    {
        long q = quota ?? 0;
        ulong p = period ?? 0;
        if (q == 0 && p == 0)
        {
            return null;
        }
        string text = q > 0 ? q.ToString(CultureInfo.InvariantCulture) : "max";
        return p != 0 ? text + " " + p.ToString(CultureInfo.InvariantCulture) : text;
    }

    /// <summary>"MAJ:MIN" with * for a wildcard (null or negative) number.</summary>
    public static string DeviceNumber(long? major, long? minor) =>
        (major is { } a && a >= 0 ? a.ToString(CultureInfo.InvariantCulture) : "*") + ":"
        + (minor is { } b && b >= 0 ? b.ToString(CultureInfo.InvariantCulture) : "*");

    /// <summary>A v1 blkio.throttle.* line: "MAJ:MIN rate" (0 removes the limit).</summary>
    public static string ThrottleLine(LinuxThrottleDevice device) =>
        $"{device.Major.ToString(CultureInfo.InvariantCulture)}:{device.Minor.ToString(CultureInfo.InvariantCulture)} {device.Rate.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>A per-device weight line, v1 blkio.weight_device or v2 io.weight / io.bfq.weight: "MAJ:MIN weight".</summary>
    public static string WeightDeviceLine(long major, long minor, ulong weight) =>
        $"{major.ToString(CultureInfo.InvariantCulture)}:{minor.ToString(CultureInfo.InvariantCulture)} {weight.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// One v2 io.max line: "MAJ:MIN rbps=.. wbps=.. riops=.. wiops=..", with only the keys given; a
    /// rate of 0 (v1's "no limit") becomes "max". Null when no key is given.
    /// </summary>
    public static string? IoMaxLine(long major, long minor, ulong? rbps, ulong? wbps, ulong? riops, ulong? wiops)
    {
        if (rbps is null && wbps is null && riops is null && wiops is null)
        {
            return null;
        }
        var line = new System.Text.StringBuilder();
        line.Append(major.ToString(CultureInfo.InvariantCulture)).Append(':').Append(minor.ToString(CultureInfo.InvariantCulture));
        Append(line, "rbps", rbps);
        Append(line, "wbps", wbps);
        Append(line, "riops", riops);
        Append(line, "wiops", wiops);
        return line.ToString();

        static void Append(System.Text.StringBuilder line, string key, ulong? rate)
        {
            if (rate is { } r)
            {
                line.Append(' ').Append(key).Append('=').Append(r == 0 ? "max" : r.ToString(CultureInfo.InvariantCulture));
            }
        }
    }

    /// <summary>The io.max lines of a LinuxBlockIO, one per device, in order of first mention.</summary>
    public static List<string> IoMaxLines(LinuxBlockIO blockIO)
    {
        var devices = new List<(long Major, long Minor)>();
        var rates = new Dictionary<(long, long), ulong?[]>();
        Collect(blockIO.ThrottleReadBpsDevice, 0);
        Collect(blockIO.ThrottleWriteBpsDevice, 1);
        Collect(blockIO.ThrottleReadIOPSDevice, 2);
        Collect(blockIO.ThrottleWriteIOPSDevice, 3);
        var lines = new List<string>(devices.Count);
        foreach (var device in devices)
        {
            ulong?[] r = rates[device];
            lines.Add(IoMaxLine(device.Major, device.Minor, r[0], r[1], r[2], r[3])!);
        }
        return lines;

        void Collect(IReadOnlyList<LinuxThrottleDevice>? list, int index)
        {
            foreach (LinuxThrottleDevice device in list ?? [])
            {
                var key = (device.Major, device.Minor);
                if (!rates.TryGetValue(key, out ulong?[]? r))
                {
                    rates[key] = r = new ulong?[4];
                    devices.Add(key);
                }
                r[index] = device.Rate;
            }
        }
    }

    /// <summary>A spec pageSize is digits and a unit the kernel uses (KB, MB, GB, TB), e.g. "2MB".</summary>
    public static bool IsHugepageSize(string pageSize)
    {
        int digits = 0;
        while (digits < pageSize.Length && char.IsAsciiDigit(pageSize[digits]))
        {
            digits++;
        }
        return digits > 0 && pageSize[0] != '0' && pageSize.AsSpan(digits) is "KB" or "MB" or "GB" or "TB";
    }

    /// <summary>
    /// A spec device rule in the kernel's terms, checked: type "a" (or null or empty: every device), "c"
    /// or "b"; a null or negative number is any; access null or empty is rwm.
    /// </summary>
    /// <exception cref="InvalidSpecException">An unknown type, or access that is not a set of r, w and m.</exception>
    public static DeviceRule ParseDeviceRule(LinuxDeviceCgroup rule)
    {
        string type = string.IsNullOrEmpty(rule.Type) ? "a" : rule.Type;
        if (type is not ("a" or "c" or "b"))
        {
            throw new InvalidSpecException($"device rule type {type} is not a, b or c");
        }
        string access = string.IsNullOrEmpty(rule.Access) ? "rwm" : rule.Access;
        int seen = 0;
        foreach (char c in access)
        {
            int bit = c switch { 'r' => 1, 'w' => 2, 'm' => 4, _ => 0 };
            if (bit == 0 || (seen & bit) != 0)
            {
                throw new InvalidSpecException($"device rule access {access} is not a set of r, w and m");
            }
            seen |= bit;
        }
        return new DeviceRule(rule.Allow, type[0], rule.Major is >= 0 ? rule.Major : null, rule.Minor is >= 0 ? rule.Minor : null, access);
    }

    /// <summary>
    /// runc's AllowedDevices, appended after the spec's rules as runc's specconv does, so every
    /// container can mknod and use the standard /dev nodes and ptys. (runc's /dev/net/tun entry
    /// is left out: it was dropped in runc 1.2.0 and a pod that needs it names it.)
    /// </summary>
    public static readonly IReadOnlyList<LinuxDeviceCgroup> DefaultAllowedDevices =
    [
        new() { Allow = true, Type = "c", Access = "m" },
        new() { Allow = true, Type = "b", Access = "m" },
        new() { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwm" },   // /dev/null
        new() { Allow = true, Type = "c", Major = 1, Minor = 8, Access = "rwm" },   // /dev/random
        new() { Allow = true, Type = "c", Major = 1, Minor = 7, Access = "rwm" },   // /dev/full
        new() { Allow = true, Type = "c", Major = 5, Minor = 0, Access = "rwm" },   // /dev/tty
        new() { Allow = true, Type = "c", Major = 1, Minor = 5, Access = "rwm" },   // /dev/zero
        new() { Allow = true, Type = "c", Major = 1, Minor = 9, Access = "rwm" },   // /dev/urandom
        new() { Allow = true, Type = "c", Major = 136, Access = "rwm" },            // /dev/pts/*
        new() { Allow = true, Type = "c", Major = 5, Minor = 2, Access = "rwm" },   // /dev/ptmx
    ];

    /// <summary>
    /// The device rules a container's cgroup enforces, in order: deny everything first, as runc does,
    /// then the spec's rules, then <see cref="DefaultAllowedDevices"/>. v1 writes them to
    /// devices.allow and devices.deny (<see cref="DeviceRule.Line"/>); v2 compiles the same list into
    /// an eBPF program (V2/DeviceFilterProgram).
    /// </summary>
    public static List<DeviceRule> DeviceRules(IReadOnlyList<LinuxDeviceCgroup> rules)
    {
        var all = new List<DeviceRule>(rules.Count + DefaultAllowedDevices.Count + 1) { DeviceRule.DenyAll };
        foreach (LinuxDeviceCgroup rule in rules)
        {
            var parsed = ParseDeviceRule(rule);
            if (all.Count == 1 && parsed.Line == "a" && !parsed.Allow)
            {
                continue;   // the spec's own leading deny-all: already there
            }
            all.Add(parsed);
        }
        foreach (LinuxDeviceCgroup rule in DefaultAllowedDevices)
        {
            all.Add(ParseDeviceRule(rule));
        }
        return all;
    }

    /// <summary>A unified (v2) key must name a file <see cref="UnifiedKeys.Problem"/> allows.</summary>
    public static void ValidateUnifiedKey(string key)
    {
        if (UnifiedKeys.Problem(key) is { } problem)
        {
            throw new InvalidSpecException(problem);
        }
    }

    /// <summary>The cgroupsPath without its slashes at either end; refuses "..", "." and empty components.</summary>
    public static string NormalizePath(string path)
    {
        string trimmed = path.Trim('/');
        if (trimmed.Length == 0)
        {
            throw new InvalidSpecException("cgroupsPath is empty (the root cgroup is not a container's)");
        }
        foreach (string part in trimmed.Split('/'))
        {
            if (part is "" or "." or ".." || part.Contains('\0'))
            {
                throw new InvalidSpecException($"cgroupsPath {path} has an empty, . or .. component");
            }
        }
        return trimmed;
    }

    /// <summary>
    /// Checks what can be checked without the kernel, before anything is written, so bad input
    /// leaves nothing half applied.
    /// </summary>
    public static void Validate(LinuxResources resources, int version)
    {
        foreach (LinuxDeviceCgroup rule in resources.Devices ?? [])
        {
            ParseDeviceRule(rule);
        }
        foreach (LinuxHugepageLimit limit in resources.HugepageLimits ?? [])
        {
            if (!IsHugepageSize(limit.PageSize))
            {
                throw new InvalidSpecException($"hugepage size \"{limit.PageSize}\" is not like 2MB or 1GB");
            }
        }
        foreach (string key in resources.Unified?.Keys ?? (IEnumerable<string>)[])
        {
            ValidateUnifiedKey(key);
        }
        if (resources.Memory is { } memory)
        {
            if (memory.Swappiness is { } swappiness && swappiness > 100 && swappiness != ulong.MaxValue)
            {
                throw new InvalidSpecException($"memory swappiness {swappiness} is outside 0-100");
            }
            if (memory.Limit > 0 && memory.Swap > 0 && memory.Swap < memory.Limit)
            {
                throw new InvalidSpecException($"memory+swap limit ({memory.Swap}) must be at least the memory limit ({memory.Limit})");
            }
            if (version == 2)
            {
                SwapMaxV2(memory.Swap, memory.Limit);
            }
        }
    }
}

/// <summary>
/// One device-cgroup rule in the kernel's terms: allow or deny <see cref="Access"/> (a set of r, w, m)
/// to devices of <see cref="Type"/> ('a' every device, 'c' character, 'b' block) with the given numbers
/// (null: any). A rule of type 'a' resets the whole list to allow or deny everything, as v1 reads "a".
/// </summary>
internal readonly record struct DeviceRule(bool Allow, char Type, long? Major, long? Minor, string Access)
{
    public static DeviceRule DenyAll { get; } = new(false, 'a', null, null, "rwm");

    /// <summary>The v1 devices.allow / devices.deny line: "a", or "c 1:3 rwm" with * for any number.</summary>
    public string Line => Type == 'a' ? "a" : $"{Type} {CgroupConversions.DeviceNumber(Major, Minor)} {Access}";
}
