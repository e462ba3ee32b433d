using Berth.Api.Cri;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// The pod's namespace modes, read once. Network and IPC are pod-wide in Kubernetes (kubelet copies
/// them into every container's security context), so the pod's values decide them for containers too:
/// they are what the sandbox actually pinned.
/// </summary>
internal sealed record PodNamespaces(NamespaceMode Network, NamespaceMode Pid, NamespaceMode Ipc)
{
    public bool HostNetwork => Network == NamespaceMode.Node;
    public bool HostIpc => Ipc == NamespaceMode.Node;
    public bool HostPid => Pid == NamespaceMode.Node;

    /// <summary>The pod shares one pid namespace among its containers (shareProcessNamespace).</summary>
    public bool SharedPid => Pid == NamespaceMode.Pod;

    public static PodNamespaces Of(Cri.PodSandboxConfig config)
    {
        NamespaceOption? options = config.Linux?.SecurityContext?.NamespaceOptions;
        return new PodNamespaces(
            options?.Network ?? NamespaceMode.Pod,
            options?.Pid ?? NamespaceMode.Pod,
            options?.Ipc ?? NamespaceMode.Pod);
    }

    /// <summary>
    /// User namespaces need a route the multithreaded shim does not have yet (see DESIGN.md): refuse
    /// rather than run the pod with host ids it did not ask for.
    /// </summary>
    public static void RefuseUserNamespace(UserNamespace? options, string owner)
    {
        if (options is { Mode: not NamespaceMode.Node })
        {
            throw new SpecException($"{owner} asks for a user namespace (mode {CriNames.Of(options.Mode)}); user namespaces are not supported yet");
        }
    }
}
