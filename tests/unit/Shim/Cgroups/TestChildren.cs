using System.Diagnostics;

namespace Berth.Shim.Tests.Unit.Cgroups;

/// <summary>
/// What the real-cgroup tests make for themselves, and only that, gone even when a test fails: the
/// processes they start (killed and reaped), and cgroup directories (removed deepest first).
/// </summary>
internal sealed class TestChildren : IDisposable
{
    private readonly List<Process> _children = [];

    /// <summary>Starts a process this test owns.</summary>
    public Process Start(ProcessStartInfo start)
    {
        var process = Process.Start(start)!;
        _children.Add(process);
        return process;
    }

    /// <summary>Kills and reaps every process started here (and what each started); one already gone is fine.</summary>
    public void KillAll()
    {
        foreach (Process child in _children)
        {
            try
            {
                child.Kill(entireProcessTree: true);
                child.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    public void Dispose()
    {
        KillAll();
        foreach (Process child in _children)
        {
            child.Dispose();
        }
    }

    /// <summary>rmdir deepest first: cgroup directories hold only kernel files, which rmdir takes with them; busy ones are retried for a second.</summary>
    public static void RemoveTree(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }
        foreach (string child in Directory.GetDirectories(directory))
        {
            RemoveTree(child);
        }
        for (int attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                Directory.Delete(directory);
                return;
            }
            catch (IOException) when (attempt < 99)
            {
                Thread.Sleep(10);
            }
        }
    }
}
