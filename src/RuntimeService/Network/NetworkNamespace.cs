namespace Berth.RuntimeService.Network;

/// <summary>Whether a netns path (a pod's pin) still holds a network namespace.</summary>
public static class NetworkNamespace
{
    /// <summary>NSFS_MAGIC: what statfs reports for a bind mount of /proc/PID/ns/net.</summary>
    private const long NsfsMagic = 0x6e736673;

    /// <summary>
    /// True when <paramref name="path"/> is a mounted namespace. DEL gets the path only then, as containerd
    /// passes an empty CNI_NETNS once the netns is closed: plugins (bridge) treat a missing path as gone
    /// but fail on a path that exists and is no namespace (a pin left unmounted by a reboot).
    /// </summary>
    public static bool IsLive(string path)
    {
        if (path.Length == 0)
        {
            return false;
        }
        try
        {
            return Interop.Sys.StatFsType(path) == NsfsMagic;
        }
        catch (ErrnoException)
        {
            return false;
        }
    }
}
