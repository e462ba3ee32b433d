using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// Enum values as the CRI's proto names them (CONTAINER_EXITED, POD), for messages: the C# names the
/// code generator makes (ContainerExited, Pod) mean nothing to a crictl user.
/// </summary>
public static class CriNames
{
    public static string Of(Cri.ContainerState state) => state switch
    {
        Cri.ContainerState.ContainerCreated => "CONTAINER_CREATED",
        Cri.ContainerState.ContainerRunning => "CONTAINER_RUNNING",
        Cri.ContainerState.ContainerExited => "CONTAINER_EXITED",
        _ => "CONTAINER_UNKNOWN",
    };

    public static string Of(Cri.NamespaceMode mode) => mode switch
    {
        Cri.NamespaceMode.Pod => "POD",
        Cri.NamespaceMode.Container => "CONTAINER",
        Cri.NamespaceMode.Node => "NODE",
        Cri.NamespaceMode.Target => "TARGET",
        _ => $"{(int)mode} (not a NamespaceMode)",
    };
}
