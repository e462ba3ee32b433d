namespace Berth.RuntimeService.Specs;

/// <summary>
/// Annotation keys written into specs. The io.kubernetes.cri.* keys are containerd's, so tools that
/// read a bundle's config.json (crictl inspect, monitoring agents) find what they expect.
/// </summary>
public static class SpecAnnotations
{
    public const string ContainerType = "io.kubernetes.cri.container-type";
    public const string ContainerTypeSandbox = "sandbox";
    public const string ContainerTypeContainer = "container";
    public const string SandboxId = "io.kubernetes.cri.sandbox-id";
    public const string SandboxName = "io.kubernetes.cri.sandbox-name";
    public const string SandboxNamespace = "io.kubernetes.cri.sandbox-namespace";
    public const string SandboxUid = "io.kubernetes.cri.sandbox-uid";
    public const string SandboxLogDirectory = "io.kubernetes.cri.sandbox-log-directory";
    public const string SandboxCpuPeriod = "io.kubernetes.cri.sandbox-cpu-period";
    public const string SandboxCpuQuota = "io.kubernetes.cri.sandbox-cpu-quota";
    public const string SandboxCpuShares = "io.kubernetes.cri.sandbox-cpu-shares";
    public const string SandboxMemory = "io.kubernetes.cri.sandbox-memory";
    public const string ContainerName = "io.kubernetes.cri.container-name";
    public const string ImageName = "io.kubernetes.cri.image-name";
}
