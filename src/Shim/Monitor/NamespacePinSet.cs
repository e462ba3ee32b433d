using Berth.Api.Shim;

namespace Berth.Shim.Monitor;

/// <summary>
/// A sandbox's namespace pins (<see cref="NamespacePins"/>): a bind mount of
/// /proc/&lt;reaper&gt;/ns/&lt;kind&gt; on a file in the pod's namespace directory for each namespace the
/// sandbox created, so the pod's containers can join them by path and they outlive the reaper
/// until the sandbox is shut down.
/// </summary>
internal sealed class NamespacePinSet
{
    private readonly string? _directory;
    private readonly List<string> _pins = [];

    /// <param name="directory">The pod's namespace directory (<see cref="ShimOptions.NamespaceDir"/>); null or empty: nothing is pinned.</param>
    public NamespacePinSet(string? directory)
    {
        _directory = string.IsNullOrEmpty(directory) ? null : directory;
    }

    /// <summary>Pins each namespace of <paramref name="createdTypes"/> that is ever pinned, from process <paramref name="pid"/>.</summary>
    public void Pin(int pid, List<string> createdTypes)
    {
        if (_directory is null)
        {
            return;
        }
        ShimFiles.MakeDirectories(_directory);
        foreach (string type in createdTypes)
        {
            if (NamespacePins.FileName(type) is not { } name)
            {
                continue;
            }
            string target = NamespacePins.PathOf(_directory, type);
            ShimFiles.CreateFile(target);
            Interop.Sys.Mount($"/proc/{pid}/ns/{name}", target, null, Interop.Sys.MS_BIND, null);
            _pins.Add(target);
        }
    }

    /// <summary>Unmounts and removes every pin, then the directory if it is left empty; what fails goes into <paramref name="problems"/>.</summary>
    public void Unpin(List<string> problems)
    {
        foreach (string pin in _pins)
        {
            try
            {
                while (Interop.Sys.Unmount(pin, Interop.Sys.MNT_DETACH))
                {
                }
                ShimFiles.Delete(pin);
            }
            catch (ErrnoException e)
            {
                problems.Add($"unpinning {pin}: {e.Message}");
            }
        }
        _pins.Clear();
        if (_directory is not null)
        {
            // Removed only when empty (else ENOTEMPTY): other files there are not ours to delete.
            Interop.Sys.TryRmDir(_directory);
        }
    }
}
