using System.Collections.Frozen;
using static Berth.RuntimeService.Validation.Limits;

namespace Berth.RuntimeService.Validation;

/// <summary>The rule of one field: for its values (each element of a repeated field, each value of a map), and for a map's keys.</summary>
/// <param name="Value">The rule of the field's values.</param>
/// <param name="Key">For a map field, the rule of its keys; null means <see cref="CriFieldRules.General"/>.</param>
internal sealed record FieldRule(StringRule Value, StringRule? Key = null);

/// <summary>
/// The rules of the CRI's string and bytes fields, by the proto field's full name, each group with its
/// source: the CRI's own words (api.proto upstream), what kubelet sends, and the kernel's limits. Every
/// string field reachable from a request of either service was read and is listed; a field added to
/// the proto later gets <see cref="General"/> until it is listed. A bytes field has no checks unless
/// listed (a unit test requires every request bytes field to be).
/// </summary>
internal static class CriFieldRules
{
    private const string P = "runtime.v1.";

    /// <summary>Any string without a rule of its own: no NUL, at most <see cref="Limits.GeneralMaxBytes"/>.</summary>
    public static readonly StringRule General = new(GeneralMaxBytes);

    private static readonly FieldRule Text = new(General);
    private static readonly FieldRule Id = new(new StringRule(IdMaxBytes, Characters.Token));
    private static readonly FieldRule ImageReference = new(new StringRule(ImageReferenceMaxBytes, Characters.Token));
    private static readonly FieldRule AbsolutePath = new(new StringRule(PathMaxBytes, Path: PathForm.Absolute));
    private static readonly FieldRule AnyPath = new(new StringRule(PathMaxBytes));
    private static readonly FieldRule Argument = new(new StringRule(ArgumentMaxBytes));
    private static readonly FieldRule Labels = new(General, Key: new StringRule(QualifiedNameMaxBytes, Characters.Token));
    private static readonly FieldRule ResolvConfWord = new(new StringRule(DnsSubdomainMaxBytes, Characters.Token));
    private static readonly FieldRule DnsLabel = new(new StringRule(DnsLabelMaxBytes, Characters.Token));
    private static readonly FieldRule PageToken = new(new StringRule(PageBytes, Characters.Token));

    /// <summary>The table: proto field full name → rule.</summary>
    public static readonly FrozenDictionary<string, FieldRule> ByField = new (string Field, FieldRule Rule)[]
    {
        // IDs. berthd makes 64 hex digits (as containerd and CRI-O do); crictl lets users type a unique
        // prefix. Printable, short: an ID lands in lookups, log lines and errors.
        (P + "StopPodSandboxRequest.pod_sandbox_id", Id),
        (P + "RemovePodSandboxRequest.pod_sandbox_id", Id),
        (P + "PodSandboxStatusRequest.pod_sandbox_id", Id),
        (P + "PodSandboxFilter.id", Id),
        (P + "PodSandboxStatsRequest.pod_sandbox_id", Id),
        (P + "PodSandboxStatsFilter.id", Id),
        (P + "NamespaceOption.target_id", Id),
        (P + "CreateContainerRequest.pod_sandbox_id", Id),
        (P + "StartContainerRequest.container_id", Id),
        (P + "StopContainerRequest.container_id", Id),
        (P + "RemoveContainerRequest.container_id", Id),
        (P + "ContainerFilter.id", Id),
        (P + "ContainerFilter.pod_sandbox_id", Id),
        (P + "ContainerStatusRequest.container_id", Id),
        (P + "UpdateContainerResourcesRequest.container_id", Id),
        (P + "ExecSyncRequest.container_id", Id),
        (P + "ExecRequest.container_id", Id),
        (P + "AttachRequest.container_id", Id),
        (P + "PortForwardRequest.pod_sandbox_id", Id),
        (P + "ContainerStatsRequest.container_id", Id),
        (P + "ContainerStatsFilter.id", Id),
        (P + "ContainerStatsFilter.pod_sandbox_id", Id),
        (P + "ReopenContainerLogRequest.container_id", Id),
        (P + "CheckpointContainerRequest.container_id", Id),
        (P + "CheckpointPodRequest.pod_sandbox_id", Id),
        (P + "CheckpointPodRequest.container_ids", Id),
        (P + "UpdatePodSandboxResourcesRequest.pod_sandbox_id", Id),

        // Images. CRI: "Container's Image field (e.g. imageID or imageDigest)"; a reference, an ID, an
        // ID prefix or a digest, all printable ASCII (distribution/reference grammar).
        (P + "ImageSpec.image", ImageReference),
        (P + "ImageSpec.user_specified_image", ImageReference),
        (P + "ImageSpec.image_ref", ImageReference),
        (P + "ImageSpec.annotations", Labels),

        // Runtime handlers: Kubernetes' RuntimeClass.handler "must be a lowercase DNS label".
        (P + "RunPodSandboxRequest.runtime_handler", DnsLabel),
        (P + "ImageSpec.runtime_handler", DnsLabel),
        (P + "RestorePodRequest.runtime_handler", DnsLabel),

        // Metadata, as kubelet fills it from the pod: its name is a DNS subdomain, its namespace a DNS
        // label, its UID a UUID. They form the reserved names of containers. A container's name is a DNS
        // label in Kubernetes, but other CRI clients name theirs freely (critest's run to about 100 bytes,
        // and containerd takes them): the cap of a DNS subdomain.
        (P + "PodSandboxMetadata.name", new(new StringRule(DnsSubdomainMaxBytes, Characters.Token))),
        (P + "PodSandboxMetadata.namespace", DnsLabel),
        (P + "PodSandboxMetadata.uid", new(new StringRule(UidMaxBytes, Characters.Token))),
        (P + "ContainerMetadata.name", new(new StringRule(DnsSubdomainMaxBytes, Characters.Token))),

        // Labels and annotations: keys are Kubernetes qualified names; values are free text (kubelet
        // puts the pod's name and JSON into some), bounded by the general cap.
        (P + "PodSandboxConfig.labels", Labels),
        (P + "PodSandboxConfig.annotations", Labels),
        (P + "ContainerConfig.labels", Labels),
        (P + "ContainerConfig.annotations", Labels),
        (P + "UpdateContainerResourcesRequest.annotations", Labels),
        (P + "PodSandboxFilter.label_selector", Labels),
        (P + "ContainerFilter.label_selector", Labels),
        (P + "PodSandboxStatsFilter.label_selector", Labels),
        (P + "ContainerStatsFilter.label_selector", Labels),

        // The pod's files: hostname goes to sethostname, /etc/hostname and /etc/hosts; DNS settings are
        // words of resolv.conf lines (a space or newline would add a line of the caller's choosing).
        (P + "PodSandboxConfig.hostname", new(new StringRule(HostnameMaxBytes, Characters.Token))),
        (P + "DNSConfig.servers", ResolvConfWord),
        (P + "DNSConfig.searches", ResolvConfWord),
        (P + "DNSConfig.options", ResolvConfWord),
        (P + "PortMapping.host_ip", new(new StringRule(IpAddressMaxBytes, Characters.Token))),

        // Logs. CRI: log_directory is the "path to the directory on the host in which container log
        // files are stored" (a relative one lands in berthd's working directory); log_path is the "path
        // relative to PodSandboxConfig.LogDirectory" and must stay inside it (see LogPaths.Join).
        (P + "PodSandboxConfig.log_directory", AbsolutePath),
        (P + "ContainerConfig.log_path", new(new StringRule(PathMaxBytes, Path: PathForm.Beneath, Base: "log_directory"))),

        // The container's process. Each argument and environment string is one execve string
        // (MAX_ARG_STRLEN); the OCI runtime spec requires an absolute cwd. KeyValue.value is bytes in
        // this CRI and becomes the C string after "NAME=".
        (P + "ContainerConfig.command", Argument),
        (P + "ContainerConfig.args", Argument),
        (P + "ExecSyncRequest.cmd", Argument),
        (P + "ExecRequest.cmd", Argument),
        (P + "ContainerConfig.working_dir", AbsolutePath),
        (P + "KeyValue.key", new(new StringRule(ArgumentMaxBytes, Characters.EnvironmentName))),
        (P + "KeyValue.value", Argument),

        // Mounts and devices: container paths are absolute in the OCI runtime spec; host paths are
        // absolute (kubelet's are; a relative one would be resolved in berthd's working directory). An
        // image volume's sub path is a descending path as Kubernetes validates subPath. mount(2) takes
        // its options as one page.
        (P + "Mount.container_path", AbsolutePath),
        (P + "Mount.host_path", AbsolutePath),
        (P + "Mount.image_sub_path", new(new StringRule(PathMaxBytes, Path: PathForm.Descending))),
        (P + "Mount.mount_options", PageToken),
        (P + "Device.container_path", AbsolutePath),
        (P + "Device.host_path", AbsolutePath),
        (P + "Device.permissions", new(new StringRule(3, Characters.DeviceAccess))),
        (P + "CDIDevice.name", Text),

        // Security. OCI: masked and read-only paths are absolute. Profiles are a path (seccomp) or a name
        // (AppArmor) in one field. A user name is looked up in the image's /etc/passwd. A capability
        // is a name such as CAP_NET_ADMIN or ALL. SELinux parts form one label written to a procfs file.
        (P + "LinuxContainerSecurityContext.masked_paths", AbsolutePath),
        (P + "LinuxContainerSecurityContext.readonly_paths", AbsolutePath),
        (P + "SecurityProfile.localhost_ref", AnyPath),
        (P + "LinuxSandboxSecurityContext.seccomp_profile_path", AnyPath),
        (P + "LinuxContainerSecurityContext.seccomp_profile_path", AnyPath),
        (P + "LinuxContainerSecurityContext.apparmor_profile", AnyPath),
        (P + "LinuxContainerSecurityContext.run_as_username", new(new StringRule(UserNameMaxBytes, Characters.Token))),
        (P + "Capability.add_capabilities", new(new StringRule(CapabilityMaxBytes, Characters.Token))),
        (P + "Capability.drop_capabilities", new(new StringRule(CapabilityMaxBytes, Characters.Token))),
        (P + "Capability.add_ambient_capabilities", new(new StringRule(CapabilityMaxBytes, Characters.Token))),
        (P + "SELinuxOption.user", PageToken),
        (P + "SELinuxOption.role", PageToken),
        (P + "SELinuxOption.type", PageToken),
        (P + "SELinuxOption.level", PageToken),

        // Cgroups and sysctls. cgroup_parent is a cgroupfs path or a systemd slice, and ".." would leave
        // the cgroup tree. cpuset lists and unified values are each one cgroupfs write; a unified key is
        // a file of the cgroup's own directory. Sysctl names follow Kubernetes' IsValidSysctlName
        // (dotted or slashed, relative to /proc/sys); a value is one procfs write of one line.
        (P + "LinuxPodSandboxConfig.cgroup_parent", new(new StringRule(PathMaxBytes, Path: PathForm.NoParent))),
        (P + "LinuxContainerResources.cpuset_cpus", PageToken),
        (P + "LinuxContainerResources.cpuset_mems", PageToken),
        (P + "LinuxContainerResources.unified", new(new StringRule(PageBytes),
            Key: new StringRule(FileNameMaxBytes, Characters.Token, PathForm.FileName))),
        (P + "HugepageLimit.page_size", new(new StringRule(PageSizeMaxBytes, Characters.Token))),
        (P + "LinuxPodSandboxConfig.sysctls", new(new StringRule(PageBytes, Characters.SingleLine),
            Key: new StringRule(SysctlNameMaxBytes, Characters.Token, PathForm.Descending))),

        // Checkpoints: archive paths on the node (a relative one would be berthd's working directory's).
        (P + "CheckpointContainerRequest.location", AbsolutePath),
        (P + "CheckpointPodRequest.output_path", AbsolutePath),
        (P + "RestorePodRequest.checkpoint_path", AbsolutePath),
        (P + "CheckpointPodRequest.options", Text),
        (P + "RestorePodRequest.options", Text),

        // Free text with no rule of its own: registry credentials (fields marked debug_redact are never
        // shown in an error), kubelet's CRI version, the pod CIDR list (parsed where it is used), and
        // the Windows fields berth does not use.
        (P + "AuthConfig.username", Text),
        (P + "AuthConfig.password", Text),
        (P + "AuthConfig.auth", Text),
        (P + "AuthConfig.server_address", Text),
        (P + "AuthConfig.identity_token", Text),
        (P + "AuthConfig.registry_token", Text),
        (P + "VersionRequest.version", Text),
        (P + "NetworkConfig.pod_cidr", Text),
        (P + "WindowsSandboxSecurityContext.run_as_username", Text),
        (P + "WindowsSandboxSecurityContext.credential_spec", Text),
        (P + "WindowsContainerSecurityContext.run_as_username", Text),
        (P + "WindowsContainerSecurityContext.credential_spec", Text),
    }.ToDictionary(entry => entry.Field, entry => entry.Rule, StringComparer.Ordinal) // throws on a field listed twice
     .ToFrozenDictionary(StringComparer.Ordinal);
}
