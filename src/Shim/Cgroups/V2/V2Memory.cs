using Berth.Api.Shim.Cgroups;
using Berth.Api.Shim;

namespace Berth.Shim.Cgroups.V2;

/// <summary>
/// v2 memory: memory.max (limit), memory.low (reservation), memory.swap.max (the OCI memory+swap
/// value converted to swap only, as runc does); memory.events' oom_kill, which tells an OOM kill
/// from another SIGKILL. Swappiness and DisableOOMKiller have no v2 file and are ignored, as runc
/// ignores them; so are the deprecated kernel-memory limits.
/// </summary>
internal sealed class V2Memory : ICgroupController
{
    private readonly string _max;
    private readonly string _swapMax;
    private readonly string _low;
    private readonly string _current;
    private readonly string _events;

    public V2Memory(string directory)
    {
        _max = directory + "/memory.max";
        _swapMax = directory + "/memory.swap.max";
        _low = directory + "/memory.low";
        _current = directory + "/memory.current";
        _events = directory + "/memory.events";
    }

    public void Apply(LinuxResources resources)
    {
        if (resources.Memory is not { } memory)
        {
            return;
        }
        if (CgroupConversions.SwapMaxV2(memory.Swap, memory.Limit) is { } swap)
        {
            Interop.Errno error = CgroupFiles.TryWrite(_swapMax, swap);
            // Without swap accounting there is no memory.swap.max: "unlimited" and "none" pass, as in runc.
            if (error != 0 && !(error == Interop.Errno.ENOENT && swap is "max" or "0"))
            {
                CgroupFiles.Write(_swapMax, swap, missingHint: "swap accounting is off (CONFIG_MEMCG_SWAP, swapaccount=1)");
            }
        }
        if (CgroupConversions.V2Number(memory.Limit ?? 0) is { } max)
        {
            try
            {
                CgroupFiles.Write(_max, max);
            }
            catch (CgroupWriteException e) when (e.Error == Interop.Errno.EBUSY)
            {
                throw new CgroupWriteException(e.Error, _max, max,
                    $"the limit is below the current usage ({CgroupText.ReadUInt64OrZero(_current)} bytes) and the kernel could not reclaim enough");
            }
        }
        if (CgroupConversions.V2Number(memory.Reservation ?? 0) is { } low)
        {
            CgroupFiles.Write(_low, low);
        }
    }

    /// <summary>memory.events' oom_kill (hierarchical: kills in child cgroups count too).</summary>
    public ulong OomKillCount()
    {
        Span<byte> buffer = stackalloc byte[CgroupText.SmallFileBytes];
        int n = CgroupText.Read(_events, buffer);
        return n > 0 ? CgroupText.GetKey(buffer[..n], "oom_kill"u8) : 0;
    }
}
