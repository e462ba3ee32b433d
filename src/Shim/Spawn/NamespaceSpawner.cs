namespace Berth.Shim.Spawn;

/// <summary>
/// Starts a stage of this program inside other namespaces without ever forking managed code (see
/// DESIGN.md, "Facts measured on this machine"): a fresh dedicated thread enters the namespaces to
/// join with setns(2) (after unshare(CLONE_FS), which setns into a mount namespace requires),
/// creates the new ones with unshare(2), calls posix_spawn(3) on the plan's program, and ends. Only
/// that thread's namespaces change; the shim's other threads never see them.
/// </summary>
internal static class NamespaceSpawner
{
    /// <summary>Descriptors are duplicated above this number first so the child's dup2s cannot collide.</summary>
    private const int HighDescriptors = 100;

    public static int Spawn(SpawnPlan plan)
    {
        var high = new (int Child, int Parent)[plan.Descriptors.Length];
        try
        {
            for (int i = 0; i < high.Length; i++)
            {
                high[i] = (plan.Descriptors[i].Child, Interop.Sys.DuplicateAbove(plan.Descriptors[i].Parent, HighDescriptors));
            }
            int pid = 0;
            Exception? failure = null;
            var thread = new Thread(() =>
            {
                try
                {
                    if (plan.Join.Count > 0)
                    {
                        Interop.Sys.Unshare(Interop.Sys.CLONE_FS);
                    }
                    foreach (NamespaceJoin join in plan.Join)
                    {
                        Interop.Sys.SetNs(join.Fd, join.CloneFlag, join.Name);
                    }
                    if (plan.Unshare != 0)
                    {
                        Interop.Sys.Unshare(plan.Unshare);
                    }
                    pid = Interop.Sys.PosixSpawn(plan.Program, plan.Arguments, plan.Environment, high, plan.BlockedSignals);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }, maxStackSize: 256 * 1024)
            {
                IsBackground = true,
                Name = "spawn",
            };
            thread.Start();
            thread.Join();
            if (failure is not null)
            {
                throw failure;
            }
            return pid;
        }
        finally
        {
            foreach (var (_, parent) in high)
            {
                if (parent > 0)
                {
                    Interop.Sys.Close(parent);
                }
            }
        }
    }
}
