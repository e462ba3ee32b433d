namespace Berth.Shim.Cgroups;

/// <summary>Making and removing cgroup directories: mkdir -p that remembers what it made, rmdir that waits for tasks to drain.</summary>
internal static class CgroupDirectories
{
    /// <summary>How long <see cref="Remove"/> waits for a cgroup's exiting tasks to leave.</summary>
    private const int DrainAttempts = 100;
    private const int DrainSleepMs = 10;

    /// <summary>mkdir -p of <paramref name="relative"/> under <paramref name="mountPoint"/>; appends each directory it made to <paramref name="created"/>.</summary>
    public static string Make(string mountPoint, string relative, List<string> created, Action<string>? beforeChild = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            string current = mountPoint;
            try
            {
                foreach (string part in relative.Split('/'))
                {
                    beforeChild?.Invoke(current);
                    current = current + "/" + part;
                    if (Interop.Sys.MkDir(current))
                    {
                        created.Add(current);
                    }
                }
                return current;
            }
            catch (ErrnoException e) when (e.Error == Interop.Errno.ENOENT && attempt < 3)
            {
                // A sibling's shim removed a parent it had made between our mkdirs: start again.
            }
            catch (ErrnoException e)
            {
                throw new CgroupWriteException(e.Error, current, "(mkdir)", e.Error == Interop.Errno.ENOENT ? "the cgroup hierarchy is not mounted" : null);
            }
        }
    }

    /// <summary>
    /// rmdir of each directory, retrying for about a second in all (not per directory) while the
    /// kernel still counts exiting tasks (EBUSY); a directory already gone counts as removed.
    /// Null when all are gone, else what the first one left said.
    /// </summary>
    public static string? Remove(IReadOnlyList<string> directories)
    {
        var left = new List<string>(directories);
        for (int attempt = 0; ; attempt++)
        {
            string? failure = null;
            for (int i = left.Count - 1; i >= 0; i--)
            {
                Interop.Errno error = Interop.Sys.TryRmDir(left[i]);
                if (error is 0 or Interop.Errno.ENOENT)
                {
                    left.RemoveAt(i);
                }
                else if (error is not (Interop.Errno.EBUSY or Interop.Errno.ENOTEMPTY) || attempt >= DrainAttempts)
                {
                    // Not a drain (or drained too long): give up on this one, report it.
                    failure ??= new ErrnoException(error, "rmdir", left[i]).Message;
                    left.RemoveAt(i);
                }
            }
            if (left.Count == 0)
            {
                return failure;
            }
            Thread.Sleep(DrainSleepMs);
        }
    }

    /// <summary>Best-effort removal of parents this cgroup made, deepest first; one still in use (a sibling's) stays.</summary>
    public static void RemoveCreatedParents(IReadOnlyList<string> created, IReadOnlyCollection<string> leaves)
    {
        for (int i = created.Count - 1; i >= 0; i--)
        {
            if (!leaves.Contains(created[i]))
            {
                Interop.Sys.TryRmDir(created[i]);
            }
        }
    }

    /// <summary>Undoes a failed create: removes, deepest first, what it made.</summary>
    public static void RemoveCreated(IReadOnlyList<string> created)
    {
        for (int i = created.Count - 1; i >= 0; i--)
        {
            Interop.Sys.TryRmDir(created[i]);
        }
    }
}
