using Berth.Api.Shim.Cgroups;

namespace Berth.Shim.Cgroups.V2;

/// <summary>
/// v2 freezer, part of the core (Documentation/admin-guide/cgroup-v2.rst, "Core Interface Files"): writing 1 or 0
/// to cgroup.freeze asks for the state, and cgroup.events' "frozen" key reports it once every task has stopped
/// (or resumed); the kernel notifies that file, here it is polled with a bound.
/// </summary>
internal sealed class V2Freezer
{
    private readonly string _freeze;
    private readonly string _events;

    public V2Freezer(string directory)
    {
        _freeze = directory + "/cgroup.freeze";
        _events = directory + "/cgroup.events";
    }

    /// <summary>Freezes (or thaws) and waits for cgroup.events to report it; see <see cref="FreezerWait"/>.</summary>
    /// <exception cref="CgroupUnsupportedException">The kernel has no cgroup.freeze (before 5.2).</exception>
    /// <exception cref="CgroupBusyException">The freeze did not settle within <paramref name="bound"/> (the cgroup is thawed again).</exception>
    public void Set(bool frozen, TimeSpan bound)
    {
        string wanted = frozen ? "1" : "0";
        CgroupFiles.Write(_freeze, wanted, missingHint: "freezing a v2 cgroup needs Linux 5.2 or later");
        if (FreezerWait.Until(() => { }, () => IsFrozen() == frozen, bound))
        {
            return;
        }
        if (frozen)
        {
            Set(false, bound);
        }
        throw FreezerWait.NotSettled(_events, bound);
    }

    private bool IsFrozen()
    {
        byte[]? events = CgroupFiles.ReadAll(_events);
        return events is not null && CgroupText.GetKey(events, "frozen"u8) == 1;
    }
}
