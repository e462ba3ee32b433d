using Berth.Api.Shim;
using Berth.RuntimeService.Network;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// What of the node a sandbox needs: what its files copy (the hostname and, for pods that take them,
/// the node's /etc/hosts and /etc/resolv.conf text).
/// </summary>
/// <param name="Cgroups">How pod cgroups are named: the node's cgroup driver (cgroupfs unless set).</param>
public sealed record NodeFacts(string Hostname, string Hosts, string ResolvConf, CgroupNaming? Cgroups = null);

/// <summary>
/// What a sandbox plan is made from: kubelet's config, the new sandbox's ID, berthd's paths, the node's
/// facts and what it offers to confine the pod's reaper (seccomp profiles, SELinux).
/// </summary>
public sealed record SandboxPlanInput(Cri.PodSandboxConfig Config, string SandboxId, RuntimePaths Paths, NodeFacts Node, NodeSecurity Security);

/// <summary>A file the daemon writes on the host before the shim starts.</summary>
public sealed record PlannedFile(string Path, string Content);

/// <summary>
/// Everything RunPodSandbox makes on the node, decided before anything is made: the name kubelet
/// reserves, the bundle with the reaper's spec and the shim's options, the pod's files, its /dev/shm,
/// its cgroups and where its namespaces are pinned.
/// </summary>
/// <param name="Name">The reservation key kubelet relies on: name_namespace_uid_attempt.</param>
/// <param name="PodCgroup">The pod's cgroup (<see cref="CgroupPaths.Pod"/>); its reaper's is <paramref name="ReaperCgroup"/>.</param>
/// <param name="MountShm">Whether <paramref name="ShmPath"/> gets a tmpfs of its own (not with the host's IPC namespace).</param>
/// <param name="Network">What the pod asks of the CNI network; null for a pod on the host's network, which skips CNI.</param>
public sealed record SandboxPlan(
    string Name,
    string Bundle,
    string SocketPath,
    OciSpec Spec,
    ShimOptions Options,
    string PodCgroup,
    string ReaperCgroup,
    IReadOnlyList<PlannedFile> Files,
    string ShmPath,
    bool MountShm,
    string NamespaceDir,
    PodNetworkRequest? Network);

/// <summary>The one call that turns a RunPodSandbox request into a <see cref="SandboxPlan"/>. Pure; throws <see cref="SpecException"/> for what cannot run.</summary>
public static class SandboxPlanner
{
    /// <summary>The pod's /dev/shm: 64 MiB, as containerd's and Docker's default.</summary>
    public const string ShmOptions = "size=65536k,mode=1777";

    public static SandboxPlan Plan(SandboxPlanInput input)
    {
        var config = input.Config;
        var metadata = config.Metadata;
        if (metadata is null || metadata.Name.Length == 0 || metadata.Namespace.Length == 0 || metadata.Uid.Length == 0)
        {
            throw new SpecException("sandbox config metadata needs a name, a namespace and a uid");
        }
        if (config.LogDirectory.Length > 0)
        {
            // The CRI gives kubelet's log directory as an absolute host path; a relative one would land in berthd's working directory.
            SpecPaths.RequireHostPath(config.LogDirectory, "log_directory");
        }
        PortMappings.Validate(config.PortMappings);
        string id = input.SandboxId;
        var paths = input.Paths;
        var files = paths.SandboxFiles(id);
        var namespaces = PodNamespaces.Of(config);
        string podCgroup = CgroupPaths.Pod(config, id, input.Node.Cgroups ?? CgroupNaming.Cgroupfs);
        string reaperCgroup = CgroupPaths.Sandbox(podCgroup, id);
        var spec = SandboxSpecBuilder.Build(new SandboxSpecInput(config, id, reaperCgroup, files));
        // The pod's seccomp profile filters its reaper, as containerd's does the pause container. The
        // pod's AppArmor profile does not confine the reaper (Berth's own code, not an image's): each
        // container applies its own, as kubelet sends it.
        var security = config.Linux?.SecurityContext;
        if (SecurityProfiles.Seccomp(security, Capabilities.Default, input.Security) is { } seccomp)
        {
            spec = spec with { Linux = spec.Linux! with { Seccomp = seccomp } };
        }
        SecurityProfiles.RefuseSelinux(security?.SelinuxOptions, "the pod", input.Security.SelinuxEnabled);
        // Still checked by the containers' rules, so a pod asking for a profile this node cannot apply is
        // refused at RunPodSandbox, as the same request on a container is at CreateContainer.
        _ = SecurityProfiles.AppArmor(security?.Apparmor, "", security?.Privileged ?? false, input.Security);

        string hostname = namespaces.HostNetwork ? input.Node.Hostname : config.Hostname;
        var planned = new List<PlannedFile>
        {
            new(files.HostnamePath, hostname + "\n"),
            new(files.HostsPath, namespaces.HostNetwork ? input.Node.Hosts : SandboxSpecBuilder.HostsFile(config, hostname)),
            new(files.ResolvConfPath, SandboxSpecBuilder.ResolvConf(config.DnsConfig) ?? input.Node.ResolvConf),
        };
        string bundle = paths.SandboxBundle(id);
        string socket = paths.ShimSocket(id);
        return new SandboxPlan(
            Name: $"{metadata.Name}_{metadata.Namespace}_{metadata.Uid}_{metadata.Attempt}",
            Bundle: bundle,
            SocketPath: socket,
            Spec: spec,
            Options: new ShimOptions
            {
                Kind = ShimKind.Sandbox,
                Id = id,
                SandboxId = id,
                NamespaceDir = files.NamespaceDir,
                SocketPath = socket,
            },
            PodCgroup: podCgroup,
            ReaperCgroup: reaperCgroup,
            Files: planned,
            ShmPath: files.ShmPath,
            MountShm: !namespaces.HostIpc,
            NamespaceDir: files.NamespaceDir,
            Network: namespaces.HostNetwork ? null : PodNetworkRequest.For(config, id));
    }
}
