using System.Buffers.Text;

namespace Berth.Api.Shim.Cgroups;

/// <summary>
/// Reads what a cgroup has used, on the node's layout: on v2 the one directory of the unified tree; on
/// v1 the directory of each controller's hierarchy (cpuacct, memory, pids), and PSI from the hybrid
/// cgroup2 tree where the node mounts one (the kernel keeps pressure for every cgroup2 directory, with
/// or without controllers). Sources: the kernel's cgroup-v1/memory.rst and cgroup-v2.rst, cAdvisor's
/// and containerd's choice of fields. Reads only: no cgroup is made or changed. Not thread-safe (one
/// buffer per reader); each caller keeps its own.
/// </summary>
public sealed class CgroupUsageReader
{
    /// <summary>v1's "no limit": the page counter's maximum, PAGE_COUNTER_MAX × page size, about 2^63; any value this high is none.</summary>
    private const ulong V1Unlimited = 1UL << 62;

    private readonly CgroupLayout _layout;
    private readonly string? _cpuacct;
    private readonly string? _memory;
    private readonly string? _pids;
    // memory.stat stays parsed from _stat while the small files around it are read into _buffer.
    private readonly byte[] _stat = new byte[CgroupText.StatFileBytes];
    private readonly byte[] _buffer = new byte[CgroupText.SmallFileBytes];

    public CgroupUsageReader(CgroupLayout layout)
    {
        _layout = layout;
        _cpuacct = MountOf(layout, "cpuacct");
        _memory = MountOf(layout, "memory");
        _pids = MountOf(layout, "pids");
    }

    /// <summary>
    /// The usage of the cgroup at <paramref name="cgroupPath"/> (cgroupfs path such as /kubepods/pod1/abc),
    /// or null when it does not exist (never made, or removed meanwhile) or the path is not a cgroup's.
    /// </summary>
    public CgroupUsage? Read(string cgroupPath)
    {
        string relative = cgroupPath.Trim('/');
        if (relative.Length == 0 || relative.Split('/').Contains(".."))
        {
            return null;
        }
        return _layout.Version == 2 ? ReadV2($"{_layout.Root}/{relative}") : ReadV1(relative);
    }

    private CgroupUsage? ReadV2(string directory)
    {
        // Every cgroup2 directory has cpu.stat: none read means no cgroup (a stat of the directory first cost a call per cgroup and pass).
        if (ReadStat(directory + "/cpu.stat") is not { IsEmpty: false } cpuStat)
        {
            return null;
        }
        ulong? cpu = CgroupText.TryGetKey(cpuStat, "usage_usec"u8, out ulong usec) ? usec * 1000 : null;
        CgroupMemory? memory = null;
        CgroupSwap? swap = null;
        if (ReadNumber(directory + "/memory.current") is { } current)
        {
            ReadOnlySpan<byte> stat = ReadStat(directory + "/memory.stat");
            ulong inactiveFile = CgroupText.GetKey(stat, "inactive_file"u8);
            ulong failures = ReadKey(directory + "/memory.events", "max"u8) ?? 0;
            memory = new CgroupMemory(current, Floor(current, inactiveFile), CgroupText.GetKey(stat, "anon"u8),
                CgroupText.GetKey(stat, "file"u8), CgroupText.GetKey(stat, "file_mapped"u8),
                CgroupText.GetKey(stat, "pgfault"u8), CgroupText.GetKey(stat, "pgmajfault"u8),
                Limit(ReadNumber(directory + "/memory.max")), failures);
            if (ReadNumber(directory + "/memory.swap.current") is { } swapUsage)
            {
                swap = new CgroupSwap(swapUsage, Limit(ReadNumber(directory + "/memory.swap.max")));
            }
        }
        return new CgroupUsage(cpu, memory, swap, ReadNumber(directory + "/pids.current"),
            ReadPressure(directory + "/cpu.pressure"), ReadPressure(directory + "/memory.pressure"), ReadPressure(directory + "/io.pressure"));
    }

    private CgroupUsage? ReadV1(string relative)
    {
        string? cpuacct = _cpuacct is null ? null : $"{_cpuacct}/{relative}";
        string? memoryDirectory = _memory is null ? null : $"{_memory}/{relative}";
        string? pids = _pids is null ? null : $"{_pids}/{relative}";
        ulong? cpu = cpuacct is null ? null : ReadNumber(cpuacct + "/cpuacct.usage");
        ulong? memoryUsage = memoryDirectory is null ? null : ReadNumber(memoryDirectory + "/memory.usage_in_bytes");
        // Neither read: no cgroup (a stat of each directory first cost two calls per cgroup and pass).
        if (cpu is null && memoryUsage is null)
        {
            return null;
        }
        CgroupMemory? memory = null;
        CgroupSwap? swap = null;
        if (memoryUsage is { } usage)
        {
            ReadOnlySpan<byte> stat = ReadStat(memoryDirectory + "/memory.stat");
            ulong? limit = Limit(ReadNumber(memoryDirectory + "/memory.limit_in_bytes"));
            memory = new CgroupMemory(usage, Floor(usage, CgroupText.GetKey(stat, "total_inactive_file"u8)),
                CgroupText.GetKey(stat, "total_rss"u8), CgroupText.GetKey(stat, "total_cache"u8), CgroupText.GetKey(stat, "total_mapped_file"u8),
                CgroupText.GetKey(stat, "total_pgfault"u8), CgroupText.GetKey(stat, "total_pgmajfault"u8),
                limit, ReadNumber(memoryDirectory + "/memory.failcnt") ?? 0);
            // memsw counts memory + swap; present only with swap accounting.
            if (ReadNumber(memoryDirectory + "/memory.memsw.usage_in_bytes") is { } memsw)
            {
                ulong? memswLimit = Limit(ReadNumber(memoryDirectory + "/memory.memsw.limit_in_bytes"));
                swap = new CgroupSwap(Floor(memsw, usage), memswLimit is { } both && limit is { } memoryLimit ? Floor(both, memoryLimit) : null);
            }
        }
        string? unified = _layout.HybridUnified is { } hybrid ? $"{hybrid}/{relative}" : null;
        return new CgroupUsage(cpu, memory, swap, pids is null ? null : ReadNumber(pids + "/pids.current"),
            unified is null ? null : ReadPressure(unified + "/cpu.pressure"),
            unified is null ? null : ReadPressure(unified + "/memory.pressure"),
            unified is null ? null : ReadPressure(unified + "/io.pressure"));
    }

    /// <summary>
    /// A PSI file: <c>some avg10=0.12 avg60=0.05 avg300=0.01 total=123456</c> and, except for cpu before
    /// Linux 5.13, a <c>full</c> line; null when absent (no PSI, or psi=0 on the kernel command line).
    /// </summary>
    public static PressureStall? ParsePressure(ReadOnlySpan<byte> text)
    {
        PressureLine? some = null;
        PressureLine? full = null;
        while (!text.IsEmpty)
        {
            int end = text.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? text : text[..end];
            text = end < 0 ? default : text[(end + 1)..];
            if (line.StartsWith("some "u8))
            {
                some = ParsePressureLine(line[5..]);
            }
            else if (line.StartsWith("full "u8))
            {
                full = ParsePressureLine(line[5..]);
            }
        }
        return some is null ? null : new PressureStall(some, full);
    }

    private static PressureLine? ParsePressureLine(ReadOnlySpan<byte> fields)
    {
        double avg10 = 0, avg60 = 0, avg300 = 0;
        ulong total = 0;
        bool any = false;
        foreach (Range range in fields.Split((byte)' '))
        {
            ReadOnlySpan<byte> field = fields[range];
            int equals = field.IndexOf((byte)'=');
            if (equals < 0)
            {
                continue;
            }
            ReadOnlySpan<byte> name = field[..equals];
            ReadOnlySpan<byte> value = field[(equals + 1)..];
            if (name.SequenceEqual("total"u8) && CgroupText.TryParseUInt64(value, out ulong micros))
            {
                total = micros * 1000;
                any = true;
            }
            else if (Utf8Parser.TryParse(value, out double percent, out int consumed) && consumed == value.Length)
            {
                if (name.SequenceEqual("avg10"u8))
                {
                    avg10 = percent;
                }
                else if (name.SequenceEqual("avg60"u8))
                {
                    avg60 = percent;
                }
                else if (name.SequenceEqual("avg300"u8))
                {
                    avg300 = percent;
                }
            }
        }
        return any ? new PressureLine(avg10, avg60, avg300, total) : null;
    }

    private PressureStall? ReadPressure(string path)
    {
        int n = CgroupText.Read(path, _buffer);
        return n > 0 ? ParsePressure(_buffer.AsSpan(0, n)) : null;
    }

    private ReadOnlySpan<byte> ReadStat(string path)
    {
        int n = CgroupText.Read(path, _stat);
        return n > 0 ? _stat.AsSpan(0, n) : default;
    }

    private ulong? ReadNumber(string path) => CgroupText.TryReadUInt64(path, _buffer, out ulong value) ? value : null;

    private ulong? ReadKey(string path, ReadOnlySpan<byte> key)
    {
        int n = CgroupText.Read(path, _buffer);
        return n > 0 && CgroupText.TryGetKey(_buffer.AsSpan(0, n), key, out ulong value) ? value : null;
    }

    /// <summary>A limit as read ("max", -1 or v1's near-2^63 maximum mean none).</summary>
    private static ulong? Limit(ulong? value) => value is { } limit && limit < V1Unlimited ? limit : null;

    private static ulong Floor(ulong value, ulong less) => value > less ? value - less : 0;

    /// <summary>The mount point of the v1 hierarchy that carries <paramref name="controller"/>, or null.</summary>
    private static string? MountOf(CgroupLayout layout, string controller) =>
        layout.Hierarchies.FirstOrDefault(hierarchy => hierarchy.Controllers.Contains(controller))?.MountPoint;
}
