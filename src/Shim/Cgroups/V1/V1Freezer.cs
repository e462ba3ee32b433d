namespace Berth.Shim.Cgroups.V1;

/// <summary>
/// v1 freezer: freezer.state takes FROZEN or THAWED and reads FREEZING while tasks are still being stopped
/// (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst). FROZEN is written again on every poll, as runc
/// does, since a task forked during FREEZING can leave the cgroup FREEZING until asked again.
/// </summary>
internal sealed class V1Freezer
{
    private readonly string _state;

    public V1Freezer(string directory)
    {
        _state = directory + "/freezer.state";
    }

    /// <summary>Freezes (or thaws) and waits for the state to settle; see <see cref="FreezerWait"/>.</summary>
    /// <exception cref="CgroupBusyException">The freeze did not settle within <paramref name="bound"/> (the cgroup is thawed again).</exception>
    public void Set(bool frozen, TimeSpan bound)
    {
        string wanted = frozen ? "FROZEN" : "THAWED";
        if (FreezerWait.Until(() => CgroupFiles.Write(_state, wanted), () => CgroupFiles.ReadText(_state) == wanted, bound))
        {
            return;
        }
        if (frozen)
        {
            Set(false, bound);
        }
        throw FreezerWait.NotSettled(_state, bound);
    }
}
