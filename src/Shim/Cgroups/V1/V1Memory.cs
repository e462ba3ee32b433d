using Berth.Api.Shim.Cgroups;
using System.Globalization;
using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V1;

/// <summary>
/// v1 memory: limit_in_bytes, soft_limit_in_bytes (reservation), memsw.limit_in_bytes (memory +
/// swap, only with swap accounting), swappiness, oom_control; the oom_kill counter, which tells an
/// OOM kill from another SIGKILL. Kernel and KernelTCP are ignored, as runc does: kmem limits are
/// deprecated and kernels since 5.4 (cgroup v1 kmem) or 6.x ignore or lack them.
/// </summary>
internal sealed class V1Memory : ICgroupController
{
    private readonly string _limit;
    private readonly string _memswLimit;
    private readonly string _usage;
    private readonly string _oomControl;
    private readonly string _directory;

    public V1Memory(string directory)
    {
        _directory = directory;
        _limit = directory + "/memory.limit_in_bytes";
        _memswLimit = directory + "/memory.memsw.limit_in_bytes";
        _usage = directory + "/memory.usage_in_bytes";
        _oomControl = directory + "/memory.oom_control";
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.Memory is not { } memory)
        {
            return;
        }
        long limit = memory.Limit ?? 0;
        long swap = memory.Swap ?? 0;
        if (swap != 0 && !File.Exists(_memswLimit))
        {
            // No swap accounting (CONFIG_MEMCG_SWAP off or swapaccount=0): "unlimited" and "no
            // swap beyond the limit" are let through, as runc lets them through on v2; anything
            // else cannot be enforced and is refused.
            if (swap == -1 || swap == limit)
            {
                swap = 0;
            }
            else
            {
                throw new CgroupUnsupportedException(
                    $"a swap limit needs swap accounting, and {_memswLimit} is missing (boot with swapaccount=1)", _memswLimit);
            }
        }
        if (limit != 0 && swap != 0)
        {
            // memsw must stay >= limit at every step: raise memsw first when it grows, as runc does.
            ulong current = CgroupText.ReadUInt64OrZero(_limit);
            if (swap == -1 || current < (ulong)swap)
            {
                WriteSwap(swap);
                WriteLimit(limit);
            }
            else
            {
                WriteLimit(limit);
                WriteSwap(swap);
            }
        }
        else if (limit != 0)
        {
            WriteLimit(limit);
        }
        else if (swap != 0)
        {
            WriteSwap(swap);
        }
        if (memory.Reservation is { } reservation and not 0)
        {
            CgroupFiles.Write(_directory + "/memory.soft_limit_in_bytes", Number(reservation));
        }
        if (memory.Swappiness is { } swappiness and <= 100)
        {
            CgroupFiles.Write(_directory + "/memory.swappiness", swappiness.ToString(CultureInfo.InvariantCulture),
                refusedHint: "the root cgroup and cgroups with use_hierarchy children refuse swappiness");
        }
        if (memory.DisableOOMKiller == true)
        {
            CgroupFiles.Write(_oomControl, "1");
        }
    }

    private void WriteLimit(long limit)
    {
        try
        {
            CgroupFiles.Write(_limit, Number(limit));
        }
        catch (CgroupWriteException e) when (e.Error == Interop.Errno.EBUSY)
        {
            ulong usage = CgroupText.ReadUInt64OrZero(_usage);
            throw new CgroupWriteException(e.Error, _limit, Number(limit),
                $"the limit is below the current usage ({usage} bytes) and the kernel could not reclaim enough");
        }
    }

    private void WriteSwap(long swap) =>
        CgroupFiles.Write(_memswLimit, Number(swap), refusedHint: "memory+swap must be at least the memory limit");

    private static string Number(long value) => value < 0 ? "-1" : value.ToString(CultureInfo.InvariantCulture);

    /// <summary>memory.oom_control's oom_kill line (kernel 4.13+).</summary>
    public ulong OomKillCount()
    {
        Span<byte> buffer = stackalloc byte[CgroupText.SmallFileBytes];
        int n = CgroupText.Read(_oomControl, buffer);
        return n > 0 ? CgroupText.GetKey(buffer[..n], "oom_kill"u8) : 0;
    }
}
