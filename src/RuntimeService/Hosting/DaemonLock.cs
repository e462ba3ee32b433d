namespace Berth.RuntimeService.Hosting;

/// <summary>
/// Exclusive locks on the root, the state directory and the socket path, held for the daemon's life, so a
/// second berthd refuses to start instead of sharing a store, another daemon's shims, or the socket. .NET takes FileShare.None as a
/// flock(LOCK_EX) on Unix, which the kernel releases when the process dies, so a crash leaves no stale lock.
/// </summary>
public sealed class DaemonLock : IDisposable
{
    private readonly List<FileStream> _locks = [];

    public DaemonLock(params string[] lockFiles)
    {
        try
        {
            foreach (var path in lockFiles)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                try
                {
                    _locks.Add(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
                }
                catch (IOException)
                {
                    throw new InvalidOperationException($"another berthd holds {path}; refusing to start a second one");
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var held in _locks)
        {
            held.Dispose();
        }
        _locks.Clear();
    }
}
