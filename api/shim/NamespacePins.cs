namespace Berth.Api.Shim;

/// <summary>
/// Where a sandbox's shim pins the namespaces it creates: a bind mount of /proc/&lt;reaper&gt;/ns/&lt;kind&gt;
/// on a file named after the kind (<c>net</c>, <c>ipc</c>, <c>uts</c>, <c>pid</c>) in the sandbox's
/// namespace directory (<see cref="ShimOptions.NamespaceDir"/>). The pod's containers join them by path.
/// </summary>
public static class NamespacePins
{
    /// <summary>The pin file name of a namespace type a sandbox pins (/proc/&lt;pid&gt;/ns names them the same); null for the others.</summary>
    public static string? FileName(string namespaceType) => namespaceType switch
    {
        LinuxNamespaceType.Network => "net",
        LinuxNamespaceType.Ipc => "ipc",
        LinuxNamespaceType.Uts => "uts",
        LinuxNamespaceType.Pid => "pid",
        _ => null,
    };

    /// <summary>The pin of <paramref name="namespaceType"/> in <paramref name="namespaceDir"/>; throws for a type that is never pinned.</summary>
    public static string PathOf(string namespaceDir, string namespaceType) =>
        $"{namespaceDir.TrimEnd('/')}/{FileName(namespaceType) ?? throw new ArgumentException($"{namespaceType} namespaces are not pinned", nameof(namespaceType))}";
}
