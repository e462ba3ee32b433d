using Berth.Api.Cri;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Berth.Tests.Unit;

// Drift guard for api/cri/api.proto, the wire contract with kubelet and crictl.
// The expectations below were taken from upstream kubernetes/cri-api
// (pkg/apis/runtime/v1/api.proto at 791729b2, 2026-07-23), not from our own file,
// so a mistyped number, type or label in the transcription fails here instead of
// silently in kubelet. When upstream changes, re-transcribe and update these tables.
public sealed class CriContractTests
{
    private static readonly FileDescriptor File = ApiReflection.Descriptor;

    [Fact]
    public void Package_is_runtime_v1()
    {
        Assert.Equal("runtime.v1", File.Package);
        Assert.Equal(["RuntimeService", "ImageService"], File.Services.Select(s => s.Name));
    }

    [Fact]
    public void Generated_types_are_bound_to_the_file_descriptor()
    {
        Assert.Same(File.FindTypeByName<MessageDescriptor>("PodSandboxConfig"), PodSandboxConfig.Descriptor);
        Assert.Same(File.FindTypeByName<MessageDescriptor>("ContainerConfig"), ContainerConfig.Descriptor);
        Assert.Equal("runtime.v1.ImageSpec", ImageSpec.Descriptor.FullName);
        Assert.Equal("runtime.v1.RuntimeService", Api.Cri.RuntimeService.Descriptor.FullName);
        Assert.Equal("runtime.v1.ImageService", Api.Cri.ImageService.Descriptor.FullName);
    }

    [Fact]
    public void Shape_counts_match_upstream()
    {
        // Catches added or dropped messages, enums and fields that the tables miss.
        Assert.Equal(175, File.MessageTypes.Count);
        Assert.Equal(10, File.EnumTypes.Count);
        Assert.Equal(478, File.MessageTypes.Sum(m => m.Fields.InDeclarationOrder().Count));
        Assert.Equal(37, Api.Cri.RuntimeService.Descriptor.Methods.Count);
        Assert.Equal(6, Api.Cri.ImageService.Descriptor.Methods.Count);
    }

    [Fact]
    public void RuntimeService_methods_match_upstream()
    {
        string[] expected =
        [
            "Version(VersionRequest) returns (VersionResponse)",
            "RunPodSandbox(RunPodSandboxRequest) returns (RunPodSandboxResponse)",
            "StopPodSandbox(StopPodSandboxRequest) returns (StopPodSandboxResponse)",
            "RemovePodSandbox(RemovePodSandboxRequest) returns (RemovePodSandboxResponse)",
            "PodSandboxStatus(PodSandboxStatusRequest) returns (PodSandboxStatusResponse)",
            "ListPodSandbox(ListPodSandboxRequest) returns (ListPodSandboxResponse)",
            "StreamPodSandboxes(StreamPodSandboxesRequest) returns (stream StreamPodSandboxesResponse)",
            "CreateContainer(CreateContainerRequest) returns (CreateContainerResponse)",
            "StartContainer(StartContainerRequest) returns (StartContainerResponse)",
            "StopContainer(StopContainerRequest) returns (StopContainerResponse)",
            "RemoveContainer(RemoveContainerRequest) returns (RemoveContainerResponse)",
            "ListContainers(ListContainersRequest) returns (ListContainersResponse)",
            "StreamContainers(StreamContainersRequest) returns (stream StreamContainersResponse)",
            "ContainerStatus(ContainerStatusRequest) returns (ContainerStatusResponse)",
            "UpdateContainerResources(UpdateContainerResourcesRequest) returns (UpdateContainerResourcesResponse)",
            "ReopenContainerLog(ReopenContainerLogRequest) returns (ReopenContainerLogResponse)",
            "ExecSync(ExecSyncRequest) returns (ExecSyncResponse)",
            "Exec(ExecRequest) returns (ExecResponse)",
            "Attach(AttachRequest) returns (AttachResponse)",
            "PortForward(PortForwardRequest) returns (PortForwardResponse)",
            "ContainerStats(ContainerStatsRequest) returns (ContainerStatsResponse)",
            "ListContainerStats(ListContainerStatsRequest) returns (ListContainerStatsResponse)",
            "StreamContainerStats(StreamContainerStatsRequest) returns (stream StreamContainerStatsResponse)",
            "PodSandboxStats(PodSandboxStatsRequest) returns (PodSandboxStatsResponse)",
            "ListPodSandboxStats(ListPodSandboxStatsRequest) returns (ListPodSandboxStatsResponse)",
            "StreamPodSandboxStats(StreamPodSandboxStatsRequest) returns (stream StreamPodSandboxStatsResponse)",
            "UpdateRuntimeConfig(UpdateRuntimeConfigRequest) returns (UpdateRuntimeConfigResponse)",
            "Status(StatusRequest) returns (StatusResponse)",
            "CheckpointContainer(CheckpointContainerRequest) returns (CheckpointContainerResponse)",
            "CheckpointPod(CheckpointPodRequest) returns (CheckpointPodResponse)",
            "RestorePod(RestorePodRequest) returns (RestorePodResponse)",
            "GetContainerEvents(GetEventsRequest) returns (stream ContainerEventResponse)",
            "ListMetricDescriptors(ListMetricDescriptorsRequest) returns (ListMetricDescriptorsResponse)",
            "ListPodSandboxMetrics(ListPodSandboxMetricsRequest) returns (ListPodSandboxMetricsResponse)",
            "StreamPodSandboxMetrics(StreamPodSandboxMetricsRequest) returns (stream StreamPodSandboxMetricsResponse)",
            "RuntimeConfig(RuntimeConfigRequest) returns (RuntimeConfigResponse)",
            "UpdatePodSandboxResources(UpdatePodSandboxResourcesRequest) returns (UpdatePodSandboxResourcesResponse)",
        ];
        AssertLines(expected, Api.Cri.RuntimeService.Descriptor.Methods.Select(Describe));
    }

    [Fact]
    public void ImageService_methods_match_upstream()
    {
        string[] expected =
        [
            "ListImages(ListImagesRequest) returns (ListImagesResponse)",
            "StreamImages(StreamImagesRequest) returns (stream StreamImagesResponse)",
            "ImageStatus(ImageStatusRequest) returns (ImageStatusResponse)",
            "PullImage(PullImageRequest) returns (PullImageResponse)",
            "RemoveImage(RemoveImageRequest) returns (RemoveImageResponse)",
            "ImageFsInfo(ImageFsInfoRequest) returns (ImageFsInfoResponse)",
        ];
        AssertLines(expected, Api.Cri.ImageService.Descriptor.Methods.Select(Describe));
    }

    [Theory]
    [InlineData("Protocol", "TCP=0 UDP=1 SCTP=2")]
    [InlineData("MountPropagation", "PROPAGATION_PRIVATE=0 PROPAGATION_HOST_TO_CONTAINER=1 PROPAGATION_BIDIRECTIONAL=2")]
    [InlineData("NamespaceMode", "POD=0 CONTAINER=1 NODE=2 TARGET=3")]
    [InlineData("SupplementalGroupsPolicy", "Merge=0 Strict=1")]
    [InlineData("PodSandboxState", "SANDBOX_READY=0 SANDBOX_NOTREADY=1")]
    [InlineData("ContainerState", "CONTAINER_CREATED=0 CONTAINER_RUNNING=1 CONTAINER_EXITED=2 CONTAINER_UNKNOWN=3")]
    [InlineData("ContainerEventType", "CONTAINER_CREATED_EVENT=0 CONTAINER_STARTED_EVENT=1 CONTAINER_STOPPED_EVENT=2 CONTAINER_DELETED_EVENT=3")]
    [InlineData("MetricType", "COUNTER=0 GAUGE=1")]
    [InlineData("CgroupDriver", "SYSTEMD=0 CGROUPFS=1")]
    [InlineData("SecurityProfile.ProfileType", "RuntimeDefault=0 Unconfined=1 Localhost=2")]
    public void Enum_values_match_upstream(string enumName, string values)
    {
        var descriptor = FindEnum(enumName);
        Assert.Equal(values, string.Join(' ', descriptor.Values.Select(v => $"{v.Name}={v.Number}")));
    }

    [Fact]
    public void Signal_enum_matches_upstream()
    {
        var values = FindEnum("Signal").Values.ToDictionary(v => v.Name, v => v.Number);
        Assert.Equal(66, values.Count);
        Assert.Equal(Enumerable.Range(0, 66), values.Values.Order());
        Assert.Equal(0, values["SIGNAL_RUNTIME_DEFAULT"]);
        Assert.Equal(8, values["SIGNAL_SIGHUP"]);
        Assert.Equal(10, values["SIGNAL_SIGINT"]);
        Assert.Equal(13, values["SIGNAL_SIGKILL"]);
        Assert.Equal(18, values["SIGNAL_SIGQUIT"]);
        Assert.Equal(23, values["SIGNAL_SIGTERM"]);
        Assert.Equal(29, values["SIGNAL_SIGUSR1"]);
        Assert.Equal(35, values["SIGNAL_SIGRTMIN"]);
        Assert.Equal(50, values["SIGNAL_SIGRTMINPLUS15"]);
        Assert.Equal(51, values["SIGNAL_SIGRTMAXMINUS14"]);
        Assert.Equal(65, values["SIGNAL_SIGRTMAX"]);
    }

    [Fact]
    public void Version_request_encodes_as_upstream()
    {
        // Field 1, wire type 2 (length-delimited), length 2, "v1".
        Assert.Equal(new byte[] { 0x0A, 0x02, (byte)'v', (byte)'1' },
            new VersionRequest { Version = "v1" }.ToByteArray());
    }

    // (message, field, number, type); type as written in the .proto: "repeated X",
    // "map<K, V>", a scalar name or a message/enum name relative to runtime.v1.
    [Theory]
    [InlineData("VersionRequest", "version", 1, "string")]
    [InlineData("VersionResponse", "version", 1, "string")]
    [InlineData("VersionResponse", "runtime_name", 2, "string")]
    [InlineData("VersionResponse", "runtime_version", 3, "string")]
    [InlineData("VersionResponse", "runtime_api_version", 4, "string")]
    [InlineData("PodSandboxMetadata", "name", 1, "string")]
    [InlineData("PodSandboxMetadata", "uid", 2, "string")]
    [InlineData("PodSandboxMetadata", "namespace", 3, "string")]
    [InlineData("PodSandboxMetadata", "attempt", 4, "uint32")]
    [InlineData("PodSandboxConfig", "metadata", 1, "PodSandboxMetadata")]
    [InlineData("PodSandboxConfig", "hostname", 2, "string")]
    [InlineData("PodSandboxConfig", "log_directory", 3, "string")]
    [InlineData("PodSandboxConfig", "dns_config", 4, "DNSConfig")]
    [InlineData("PodSandboxConfig", "port_mappings", 5, "repeated PortMapping")]
    [InlineData("PodSandboxConfig", "labels", 6, "map<string, string>")]
    [InlineData("PodSandboxConfig", "annotations", 7, "map<string, string>")]
    [InlineData("PodSandboxConfig", "linux", 8, "LinuxPodSandboxConfig")]
    [InlineData("PodSandboxConfig", "windows", 9, "WindowsPodSandboxConfig")]
    [InlineData("DNSConfig", "servers", 1, "repeated string")]
    [InlineData("DNSConfig", "searches", 2, "repeated string")]
    [InlineData("DNSConfig", "options", 3, "repeated string")]
    [InlineData("PortMapping", "protocol", 1, "Protocol")]
    [InlineData("PortMapping", "container_port", 2, "int32")]
    [InlineData("PortMapping", "host_port", 3, "int32")]
    [InlineData("PortMapping", "host_ip", 4, "string")]
    [InlineData("LinuxPodSandboxConfig", "cgroup_parent", 1, "string")]
    [InlineData("LinuxPodSandboxConfig", "security_context", 2, "LinuxSandboxSecurityContext")]
    [InlineData("LinuxPodSandboxConfig", "sysctls", 3, "map<string, string>")]
    [InlineData("LinuxPodSandboxConfig", "overhead", 4, "LinuxContainerResources")]
    [InlineData("LinuxPodSandboxConfig", "resources", 5, "LinuxContainerResources")]
    [InlineData("LinuxSandboxSecurityContext", "namespace_options", 1, "NamespaceOption")]
    [InlineData("LinuxSandboxSecurityContext", "selinux_options", 2, "SELinuxOption")]
    [InlineData("LinuxSandboxSecurityContext", "run_as_user", 3, "Int64Value")]
    [InlineData("LinuxSandboxSecurityContext", "readonly_rootfs", 4, "bool")]
    [InlineData("LinuxSandboxSecurityContext", "supplemental_groups", 5, "repeated int64")]
    [InlineData("LinuxSandboxSecurityContext", "privileged", 6, "bool")]
    [InlineData("LinuxSandboxSecurityContext", "seccomp_profile_path", 7, "string")]
    [InlineData("LinuxSandboxSecurityContext", "run_as_group", 8, "Int64Value")]
    [InlineData("LinuxSandboxSecurityContext", "seccomp", 9, "SecurityProfile")]
    [InlineData("LinuxSandboxSecurityContext", "apparmor", 10, "SecurityProfile")]
    [InlineData("LinuxSandboxSecurityContext", "supplemental_groups_policy", 11, "SupplementalGroupsPolicy")]
    [InlineData("NamespaceOption", "network", 1, "NamespaceMode")]
    [InlineData("NamespaceOption", "pid", 2, "NamespaceMode")]
    [InlineData("NamespaceOption", "ipc", 3, "NamespaceMode")]
    [InlineData("NamespaceOption", "target_id", 4, "string")]
    [InlineData("NamespaceOption", "userns_options", 5, "UserNamespace")]
    [InlineData("UserNamespace", "mode", 1, "NamespaceMode")]
    [InlineData("UserNamespace", "uids", 2, "repeated IDMapping")]
    [InlineData("UserNamespace", "gids", 3, "repeated IDMapping")]
    [InlineData("IDMapping", "host_id", 1, "uint32")]
    [InlineData("IDMapping", "container_id", 2, "uint32")]
    [InlineData("IDMapping", "length", 3, "uint32")]
    [InlineData("SecurityProfile", "profile_type", 1, "SecurityProfile.ProfileType")]
    [InlineData("SecurityProfile", "localhost_ref", 2, "string")]
    [InlineData("RunPodSandboxRequest", "config", 1, "PodSandboxConfig")]
    [InlineData("RunPodSandboxRequest", "runtime_handler", 2, "string")]
    [InlineData("RunPodSandboxResponse", "pod_sandbox_id", 1, "string")]
    [InlineData("StopPodSandboxRequest", "pod_sandbox_id", 1, "string")]
    [InlineData("RemovePodSandboxRequest", "pod_sandbox_id", 1, "string")]
    [InlineData("PodSandboxStatusRequest", "pod_sandbox_id", 1, "string")]
    [InlineData("PodSandboxStatusRequest", "verbose", 2, "bool")]
    [InlineData("PodSandboxStatus", "id", 1, "string")]
    [InlineData("PodSandboxStatus", "metadata", 2, "PodSandboxMetadata")]
    [InlineData("PodSandboxStatus", "state", 3, "PodSandboxState")]
    [InlineData("PodSandboxStatus", "created_at", 4, "int64")]
    [InlineData("PodSandboxStatus", "network", 5, "PodSandboxNetworkStatus")]
    [InlineData("PodSandboxStatus", "linux", 6, "LinuxPodSandboxStatus")]
    [InlineData("PodSandboxStatus", "labels", 7, "map<string, string>")]
    [InlineData("PodSandboxStatus", "annotations", 8, "map<string, string>")]
    [InlineData("PodSandboxStatus", "runtime_handler", 9, "string")]
    [InlineData("PodSandboxNetworkStatus", "ip", 1, "string")]
    [InlineData("PodSandboxNetworkStatus", "additional_ips", 2, "repeated PodIP")]
    [InlineData("PodIP", "ip", 1, "string")]
    [InlineData("PodSandboxStatusResponse", "status", 1, "PodSandboxStatus")]
    [InlineData("PodSandboxStatusResponse", "info", 2, "map<string, string>")]
    [InlineData("PodSandboxStatusResponse", "containers_statuses", 3, "repeated ContainerStatus")]
    [InlineData("PodSandboxStatusResponse", "timestamp", 4, "int64")]
    [InlineData("PodSandbox", "id", 1, "string")]
    [InlineData("PodSandbox", "metadata", 2, "PodSandboxMetadata")]
    [InlineData("PodSandbox", "state", 3, "PodSandboxState")]
    [InlineData("PodSandbox", "created_at", 4, "int64")]
    [InlineData("PodSandbox", "labels", 5, "map<string, string>")]
    [InlineData("PodSandbox", "annotations", 6, "map<string, string>")]
    [InlineData("PodSandbox", "runtime_handler", 7, "string")]
    [InlineData("PodSandboxFilter", "id", 1, "string")]
    [InlineData("PodSandboxFilter", "state", 2, "PodSandboxStateValue")]
    [InlineData("PodSandboxFilter", "label_selector", 3, "map<string, string>")]
    [InlineData("PodSandboxStateValue", "state", 1, "PodSandboxState")]
    [InlineData("ListPodSandboxRequest", "filter", 1, "PodSandboxFilter")]
    [InlineData("ListPodSandboxResponse", "items", 1, "repeated PodSandbox")]
    [InlineData("StreamPodSandboxesRequest", "filter", 1, "PodSandboxFilter")]
    [InlineData("StreamPodSandboxesResponse", "pod_sandboxes", 1, "repeated PodSandbox")]
    [InlineData("ContainerMetadata", "name", 1, "string")]
    [InlineData("ContainerMetadata", "attempt", 2, "uint32")]
    [InlineData("ImageSpec", "image", 1, "string")]
    [InlineData("ImageSpec", "annotations", 2, "map<string, string>")]
    [InlineData("ImageSpec", "user_specified_image", 18, "string")]
    [InlineData("ImageSpec", "runtime_handler", 19, "string")]
    [InlineData("ImageSpec", "image_ref", 20, "string")]
    [InlineData("KeyValue", "key", 1, "string")]
    [InlineData("KeyValue", "value", 2, "bytes")]
    [InlineData("Mount", "container_path", 1, "string")]
    [InlineData("Mount", "host_path", 2, "string")]
    [InlineData("Mount", "readonly", 3, "bool")]
    [InlineData("Mount", "selinux_relabel", 4, "bool")]
    [InlineData("Mount", "propagation", 5, "MountPropagation")]
    [InlineData("Mount", "uidMappings", 6, "repeated IDMapping")]
    [InlineData("Mount", "gidMappings", 7, "repeated IDMapping")]
    [InlineData("Mount", "recursive_read_only", 8, "bool")]
    [InlineData("Mount", "image", 9, "ImageSpec")]
    [InlineData("Mount", "image_sub_path", 10, "string")]
    [InlineData("Mount", "mount_options", 11, "repeated string")]
    [InlineData("Device", "container_path", 1, "string")]
    [InlineData("Device", "host_path", 2, "string")]
    [InlineData("Device", "permissions", 3, "string")]
    [InlineData("CDIDevice", "name", 1, "string")]
    [InlineData("ContainerConfig", "metadata", 1, "ContainerMetadata")]
    [InlineData("ContainerConfig", "image", 2, "ImageSpec")]
    [InlineData("ContainerConfig", "command", 3, "repeated string")]
    [InlineData("ContainerConfig", "args", 4, "repeated string")]
    [InlineData("ContainerConfig", "working_dir", 5, "string")]
    [InlineData("ContainerConfig", "envs", 6, "repeated KeyValue")]
    [InlineData("ContainerConfig", "mounts", 7, "repeated Mount")]
    [InlineData("ContainerConfig", "devices", 8, "repeated Device")]
    [InlineData("ContainerConfig", "labels", 9, "map<string, string>")]
    [InlineData("ContainerConfig", "annotations", 10, "map<string, string>")]
    [InlineData("ContainerConfig", "log_path", 11, "string")]
    [InlineData("ContainerConfig", "stdin", 12, "bool")]
    [InlineData("ContainerConfig", "stdin_once", 13, "bool")]
    [InlineData("ContainerConfig", "tty", 14, "bool")]
    [InlineData("ContainerConfig", "linux", 15, "LinuxContainerConfig")]
    [InlineData("ContainerConfig", "windows", 16, "WindowsContainerConfig")]
    [InlineData("ContainerConfig", "CDI_devices", 17, "repeated CDIDevice")]
    [InlineData("ContainerConfig", "stop_signal", 18, "Signal")]
    [InlineData("LinuxContainerConfig", "resources", 1, "LinuxContainerResources")]
    [InlineData("LinuxContainerConfig", "security_context", 2, "LinuxContainerSecurityContext")]
    [InlineData("LinuxContainerResources", "cpu_period", 1, "int64")]
    [InlineData("LinuxContainerResources", "cpu_quota", 2, "int64")]
    [InlineData("LinuxContainerResources", "cpu_shares", 3, "int64")]
    [InlineData("LinuxContainerResources", "memory_limit_in_bytes", 4, "int64")]
    [InlineData("LinuxContainerResources", "oom_score_adj", 5, "int64")]
    [InlineData("LinuxContainerResources", "cpuset_cpus", 6, "string")]
    [InlineData("LinuxContainerResources", "cpuset_mems", 7, "string")]
    [InlineData("LinuxContainerResources", "hugepage_limits", 8, "repeated HugepageLimit")]
    [InlineData("LinuxContainerResources", "unified", 9, "map<string, string>")]
    [InlineData("LinuxContainerResources", "memory_swap_limit_in_bytes", 10, "int64")]
    [InlineData("HugepageLimit", "page_size", 1, "string")]
    [InlineData("HugepageLimit", "limit", 2, "uint64")]
    [InlineData("LinuxContainerSecurityContext", "capabilities", 1, "Capability")]
    [InlineData("LinuxContainerSecurityContext", "privileged", 2, "bool")]
    [InlineData("LinuxContainerSecurityContext", "namespace_options", 3, "NamespaceOption")]
    [InlineData("LinuxContainerSecurityContext", "selinux_options", 4, "SELinuxOption")]
    [InlineData("LinuxContainerSecurityContext", "run_as_user", 5, "Int64Value")]
    [InlineData("LinuxContainerSecurityContext", "run_as_username", 6, "string")]
    [InlineData("LinuxContainerSecurityContext", "readonly_rootfs", 7, "bool")]
    [InlineData("LinuxContainerSecurityContext", "supplemental_groups", 8, "repeated int64")]
    [InlineData("LinuxContainerSecurityContext", "apparmor_profile", 9, "string")]
    [InlineData("LinuxContainerSecurityContext", "seccomp_profile_path", 10, "string")]
    [InlineData("LinuxContainerSecurityContext", "no_new_privs", 11, "bool")]
    [InlineData("LinuxContainerSecurityContext", "run_as_group", 12, "Int64Value")]
    [InlineData("LinuxContainerSecurityContext", "masked_paths", 13, "repeated string")]
    [InlineData("LinuxContainerSecurityContext", "readonly_paths", 14, "repeated string")]
    [InlineData("LinuxContainerSecurityContext", "seccomp", 15, "SecurityProfile")]
    [InlineData("LinuxContainerSecurityContext", "apparmor", 16, "SecurityProfile")]
    [InlineData("LinuxContainerSecurityContext", "supplemental_groups_policy", 17, "SupplementalGroupsPolicy")]
    [InlineData("Capability", "add_capabilities", 1, "repeated string")]
    [InlineData("Capability", "drop_capabilities", 2, "repeated string")]
    [InlineData("Capability", "add_ambient_capabilities", 3, "repeated string")]
    [InlineData("SELinuxOption", "user", 1, "string")]
    [InlineData("SELinuxOption", "role", 2, "string")]
    [InlineData("SELinuxOption", "type", 3, "string")]
    [InlineData("SELinuxOption", "level", 4, "string")]
    [InlineData("CreateContainerRequest", "pod_sandbox_id", 1, "string")]
    [InlineData("CreateContainerRequest", "config", 2, "ContainerConfig")]
    [InlineData("CreateContainerRequest", "sandbox_config", 3, "PodSandboxConfig")]
    [InlineData("CreateContainerResponse", "container_id", 1, "string")]
    [InlineData("StartContainerRequest", "container_id", 1, "string")]
    [InlineData("StopContainerRequest", "container_id", 1, "string")]
    [InlineData("StopContainerRequest", "timeout", 2, "int64")]
    [InlineData("RemoveContainerRequest", "container_id", 1, "string")]
    [InlineData("ContainerFilter", "id", 1, "string")]
    [InlineData("ContainerFilter", "state", 2, "ContainerStateValue")]
    [InlineData("ContainerFilter", "pod_sandbox_id", 3, "string")]
    [InlineData("ContainerFilter", "label_selector", 4, "map<string, string>")]
    [InlineData("ContainerStateValue", "state", 1, "ContainerState")]
    [InlineData("ListContainersRequest", "filter", 1, "ContainerFilter")]
    [InlineData("ListContainersResponse", "containers", 1, "repeated Container")]
    [InlineData("StreamContainersRequest", "filter", 1, "ContainerFilter")]
    [InlineData("StreamContainersResponse", "containers", 1, "repeated Container")]
    [InlineData("Container", "id", 1, "string")]
    [InlineData("Container", "pod_sandbox_id", 2, "string")]
    [InlineData("Container", "metadata", 3, "ContainerMetadata")]
    [InlineData("Container", "image", 4, "ImageSpec")]
    [InlineData("Container", "image_ref", 5, "string")]
    [InlineData("Container", "state", 6, "ContainerState")]
    [InlineData("Container", "created_at", 7, "int64")]
    [InlineData("Container", "labels", 8, "map<string, string>")]
    [InlineData("Container", "annotations", 9, "map<string, string>")]
    [InlineData("Container", "image_id", 10, "string")]
    [InlineData("ContainerStatusRequest", "container_id", 1, "string")]
    [InlineData("ContainerStatusRequest", "verbose", 2, "bool")]
    [InlineData("ContainerStatus", "id", 1, "string")]
    [InlineData("ContainerStatus", "metadata", 2, "ContainerMetadata")]
    [InlineData("ContainerStatus", "state", 3, "ContainerState")]
    [InlineData("ContainerStatus", "created_at", 4, "int64")]
    [InlineData("ContainerStatus", "started_at", 5, "int64")]
    [InlineData("ContainerStatus", "finished_at", 6, "int64")]
    [InlineData("ContainerStatus", "exit_code", 7, "int32")]
    [InlineData("ContainerStatus", "image", 8, "ImageSpec")]
    [InlineData("ContainerStatus", "image_ref", 9, "string")]
    [InlineData("ContainerStatus", "reason", 10, "string")]
    [InlineData("ContainerStatus", "message", 11, "string")]
    [InlineData("ContainerStatus", "labels", 12, "map<string, string>")]
    [InlineData("ContainerStatus", "annotations", 13, "map<string, string>")]
    [InlineData("ContainerStatus", "mounts", 14, "repeated Mount")]
    [InlineData("ContainerStatus", "log_path", 15, "string")]
    [InlineData("ContainerStatus", "resources", 16, "ContainerResources")]
    [InlineData("ContainerStatus", "image_id", 17, "string")]
    [InlineData("ContainerStatus", "user", 18, "ContainerUser")]
    [InlineData("ContainerStatus", "stop_signal", 19, "Signal")]
    [InlineData("ContainerStatusResponse", "status", 1, "ContainerStatus")]
    [InlineData("ContainerStatusResponse", "info", 2, "map<string, string>")]
    [InlineData("ContainerResources", "linux", 1, "LinuxContainerResources")]
    [InlineData("ContainerResources", "windows", 2, "WindowsContainerResources")]
    [InlineData("ContainerUser", "linux", 1, "LinuxContainerUser")]
    [InlineData("LinuxContainerUser", "uid", 1, "int64")]
    [InlineData("LinuxContainerUser", "gid", 2, "int64")]
    [InlineData("LinuxContainerUser", "supplemental_groups", 3, "repeated int64")]
    [InlineData("UpdateContainerResourcesRequest", "container_id", 1, "string")]
    [InlineData("UpdateContainerResourcesRequest", "linux", 2, "LinuxContainerResources")]
    [InlineData("UpdateContainerResourcesRequest", "windows", 3, "WindowsContainerResources")]
    [InlineData("UpdateContainerResourcesRequest", "annotations", 4, "map<string, string>")]
    [InlineData("ExecSyncRequest", "container_id", 1, "string")]
    [InlineData("ExecSyncRequest", "cmd", 2, "repeated string")]
    [InlineData("ExecSyncRequest", "timeout", 3, "int64")]
    [InlineData("ExecSyncResponse", "stdout", 1, "bytes")]
    [InlineData("ExecSyncResponse", "stderr", 2, "bytes")]
    [InlineData("ExecSyncResponse", "exit_code", 3, "int32")]
    [InlineData("ExecRequest", "container_id", 1, "string")]
    [InlineData("ExecRequest", "cmd", 2, "repeated string")]
    [InlineData("ExecRequest", "tty", 3, "bool")]
    [InlineData("ExecRequest", "stdin", 4, "bool")]
    [InlineData("ExecRequest", "stdout", 5, "bool")]
    [InlineData("ExecRequest", "stderr", 6, "bool")]
    [InlineData("ExecResponse", "url", 1, "string")]
    [InlineData("AttachRequest", "container_id", 1, "string")]
    [InlineData("AttachRequest", "stdin", 2, "bool")]
    [InlineData("AttachRequest", "tty", 3, "bool")]
    [InlineData("AttachRequest", "stdout", 4, "bool")]
    [InlineData("AttachRequest", "stderr", 5, "bool")]
    [InlineData("AttachResponse", "url", 1, "string")]
    [InlineData("PortForwardRequest", "pod_sandbox_id", 1, "string")]
    [InlineData("PortForwardRequest", "port", 2, "repeated int32")]
    [InlineData("PortForwardResponse", "url", 1, "string")]
    [InlineData("ImageFilter", "image", 1, "ImageSpec")]
    [InlineData("ListImagesRequest", "filter", 1, "ImageFilter")]
    [InlineData("Image", "id", 1, "string")]
    [InlineData("Image", "repo_tags", 2, "repeated string")]
    [InlineData("Image", "repo_digests", 3, "repeated string")]
    [InlineData("Image", "size", 4, "uint64")]
    [InlineData("Image", "uid", 5, "Int64Value")]
    [InlineData("Image", "username", 6, "string")]
    [InlineData("Image", "spec", 7, "ImageSpec")]
    [InlineData("Image", "pinned", 8, "bool")]
    [InlineData("ListImagesResponse", "images", 1, "repeated Image")]
    [InlineData("StreamImagesResponse", "images", 1, "repeated Image")]
    [InlineData("ImageStatusRequest", "image", 1, "ImageSpec")]
    [InlineData("ImageStatusRequest", "verbose", 2, "bool")]
    [InlineData("ImageStatusResponse", "image", 1, "Image")]
    [InlineData("ImageStatusResponse", "info", 2, "map<string, string>")]
    [InlineData("AuthConfig", "username", 1, "string")]
    [InlineData("AuthConfig", "password", 2, "string")]
    [InlineData("AuthConfig", "auth", 3, "string")]
    [InlineData("AuthConfig", "server_address", 4, "string")]
    [InlineData("AuthConfig", "identity_token", 5, "string")]
    [InlineData("AuthConfig", "registry_token", 6, "string")]
    [InlineData("PullImageRequest", "image", 1, "ImageSpec")]
    [InlineData("PullImageRequest", "auth", 2, "AuthConfig")]
    [InlineData("PullImageRequest", "sandbox_config", 3, "PodSandboxConfig")]
    [InlineData("PullImageResponse", "image_ref", 1, "string")]
    [InlineData("RemoveImageRequest", "image", 1, "ImageSpec")]
    [InlineData("ImageFsInfoResponse", "image_filesystems", 1, "repeated FilesystemUsage")]
    [InlineData("ImageFsInfoResponse", "container_filesystems", 2, "repeated FilesystemUsage")]
    [InlineData("FilesystemUsage", "timestamp", 1, "int64")]
    [InlineData("FilesystemUsage", "fs_id", 2, "FilesystemIdentifier")]
    [InlineData("FilesystemUsage", "used_bytes", 3, "UInt64Value")]
    [InlineData("FilesystemUsage", "inodes_used", 4, "UInt64Value")]
    [InlineData("FilesystemIdentifier", "mountpoint", 1, "string")]
    [InlineData("UInt64Value", "value", 1, "uint64")]
    [InlineData("Int64Value", "value", 1, "int64")]
    [InlineData("ContainerStatsRequest", "container_id", 1, "string")]
    [InlineData("ContainerStatsResponse", "stats", 1, "ContainerStats")]
    [InlineData("ListContainerStatsRequest", "filter", 1, "ContainerStatsFilter")]
    [InlineData("ContainerStatsFilter", "id", 1, "string")]
    [InlineData("ContainerStatsFilter", "pod_sandbox_id", 2, "string")]
    [InlineData("ContainerStatsFilter", "label_selector", 3, "map<string, string>")]
    [InlineData("ListContainerStatsResponse", "stats", 1, "repeated ContainerStats")]
    [InlineData("StreamContainerStatsResponse", "container_stats", 1, "repeated ContainerStats")]
    [InlineData("ContainerAttributes", "id", 1, "string")]
    [InlineData("ContainerAttributes", "metadata", 2, "ContainerMetadata")]
    [InlineData("ContainerAttributes", "labels", 3, "map<string, string>")]
    [InlineData("ContainerAttributes", "annotations", 4, "map<string, string>")]
    [InlineData("ContainerStats", "attributes", 1, "ContainerAttributes")]
    [InlineData("ContainerStats", "cpu", 2, "CpuUsage")]
    [InlineData("ContainerStats", "memory", 3, "MemoryUsage")]
    [InlineData("ContainerStats", "writable_layer", 4, "FilesystemUsage")]
    [InlineData("ContainerStats", "swap", 5, "SwapUsage")]
    [InlineData("ContainerStats", "io", 6, "IoUsage")]
    [InlineData("CpuUsage", "timestamp", 1, "int64")]
    [InlineData("CpuUsage", "usage_core_nano_seconds", 2, "UInt64Value")]
    [InlineData("CpuUsage", "usage_nano_cores", 3, "UInt64Value")]
    [InlineData("CpuUsage", "psi", 4, "PsiStats")]
    [InlineData("MemoryUsage", "timestamp", 1, "int64")]
    [InlineData("MemoryUsage", "working_set_bytes", 2, "UInt64Value")]
    [InlineData("MemoryUsage", "available_bytes", 3, "UInt64Value")]
    [InlineData("MemoryUsage", "usage_bytes", 4, "UInt64Value")]
    [InlineData("MemoryUsage", "rss_bytes", 5, "UInt64Value")]
    [InlineData("MemoryUsage", "page_faults", 6, "UInt64Value")]
    [InlineData("MemoryUsage", "major_page_faults", 7, "UInt64Value")]
    [InlineData("MemoryUsage", "psi", 8, "PsiStats")]
    [InlineData("SwapUsage", "timestamp", 1, "int64")]
    [InlineData("SwapUsage", "swap_available_bytes", 2, "UInt64Value")]
    [InlineData("SwapUsage", "swap_usage_bytes", 3, "UInt64Value")]
    [InlineData("IoUsage", "timestamp", 1, "int64")]
    [InlineData("IoUsage", "psi", 2, "PsiStats")]
    [InlineData("PodSandboxStats", "attributes", 1, "PodSandboxAttributes")]
    [InlineData("PodSandboxStats", "linux", 2, "LinuxPodSandboxStats")]
    [InlineData("PodSandboxStats", "windows", 3, "WindowsPodSandboxStats")]
    [InlineData("PodSandboxAttributes", "id", 1, "string")]
    [InlineData("PodSandboxAttributes", "metadata", 2, "PodSandboxMetadata")]
    [InlineData("PodSandboxAttributes", "labels", 3, "map<string, string>")]
    [InlineData("PodSandboxAttributes", "annotations", 4, "map<string, string>")]
    [InlineData("LinuxPodSandboxStats", "cpu", 1, "CpuUsage")]
    [InlineData("LinuxPodSandboxStats", "memory", 2, "MemoryUsage")]
    [InlineData("LinuxPodSandboxStats", "network", 3, "NetworkUsage")]
    [InlineData("LinuxPodSandboxStats", "process", 4, "ProcessUsage")]
    [InlineData("LinuxPodSandboxStats", "containers", 5, "repeated ContainerStats")]
    [InlineData("LinuxPodSandboxStats", "io", 6, "IoUsage")]
    [InlineData("StatusRequest", "verbose", 1, "bool")]
    [InlineData("StatusResponse", "status", 1, "RuntimeStatus")]
    [InlineData("StatusResponse", "info", 2, "map<string, string>")]
    [InlineData("StatusResponse", "runtime_handlers", 3, "repeated RuntimeHandler")]
    [InlineData("StatusResponse", "features", 4, "RuntimeFeatures")]
    [InlineData("RuntimeStatus", "conditions", 1, "repeated RuntimeCondition")]
    [InlineData("RuntimeCondition", "type", 1, "string")]
    [InlineData("RuntimeCondition", "status", 2, "bool")]
    [InlineData("RuntimeCondition", "reason", 3, "string")]
    [InlineData("RuntimeCondition", "message", 4, "string")]
    [InlineData("RuntimeHandler", "name", 1, "string")]
    [InlineData("RuntimeHandler", "features", 2, "RuntimeHandlerFeatures")]
    [InlineData("RuntimeHandlerFeatures", "recursive_read_only_mounts", 1, "bool")]
    [InlineData("RuntimeHandlerFeatures", "user_namespaces", 2, "bool")]
    [InlineData("RuntimeFeatures", "supplemental_groups_policy", 1, "bool")]
    [InlineData("RuntimeFeatures", "user_namespaces_host_network", 2, "bool")]
    [InlineData("RuntimeFeatures", "mount_options", 3, "bool")]
    [InlineData("UpdateRuntimeConfigRequest", "runtime_config", 1, "RuntimeConfig")]
    [InlineData("RuntimeConfig", "network_config", 1, "NetworkConfig")]
    [InlineData("NetworkConfig", "pod_cidr", 1, "string")]
    [InlineData("ReopenContainerLogRequest", "container_id", 1, "string")]
    [InlineData("CheckpointContainerRequest", "container_id", 1, "string")]
    [InlineData("CheckpointContainerRequest", "location", 2, "string")]
    [InlineData("CheckpointContainerRequest", "timeout", 3, "int64")]
    [InlineData("ContainerEventResponse", "container_id", 1, "string")]
    [InlineData("ContainerEventResponse", "container_event_type", 2, "ContainerEventType")]
    [InlineData("ContainerEventResponse", "created_at", 3, "int64")]
    [InlineData("ContainerEventResponse", "pod_sandbox_status", 4, "PodSandboxStatus")]
    [InlineData("ContainerEventResponse", "containers_statuses", 5, "repeated ContainerStatus")]
    [InlineData("RuntimeConfigResponse", "linux", 1, "LinuxRuntimeConfiguration")]
    [InlineData("LinuxRuntimeConfiguration", "cgroup_driver", 1, "CgroupDriver")]
    [InlineData("UpdatePodSandboxResourcesRequest", "pod_sandbox_id", 1, "string")]
    [InlineData("UpdatePodSandboxResourcesRequest", "overhead", 2, "LinuxContainerResources")]
    [InlineData("UpdatePodSandboxResourcesRequest", "resources", 3, "LinuxContainerResources")]
    public void Field_matches_upstream(string message, string field, int number, string type)
    {
        var descriptor = File.FindTypeByName<MessageDescriptor>(message);
        Assert.NotNull(descriptor);
        var actual = descriptor.FindFieldByName(field);
        Assert.True(actual is not null, $"{message}.{field} is missing");
        Assert.Equal(number, actual.FieldNumber);
        Assert.Equal(type, Describe(actual));
    }

    // Line-joined comparison, so a failure points at the first differing method.
    private static void AssertLines(IEnumerable<string> expected, IEnumerable<string> actual) =>
        Assert.Equal(string.Join('\n', expected), string.Join('\n', actual));

    private static EnumDescriptor FindEnum(string name)
    {
        var dot = name.IndexOf('.', StringComparison.Ordinal);
        var descriptor = dot < 0
            ? File.FindTypeByName<EnumDescriptor>(name)
            : File.FindTypeByName<MessageDescriptor>(name[..dot])?.EnumTypes.SingleOrDefault(e => e.Name == name[(dot + 1)..]);
        Assert.NotNull(descriptor);
        return descriptor;
    }

    private static string Describe(MethodDescriptor m) =>
        $"{m.Name}({(m.IsClientStreaming ? "stream " : "")}{m.InputType.Name}) returns ({(m.IsServerStreaming ? "stream " : "")}{m.OutputType.Name})";

    private static string Describe(FieldDescriptor f)
    {
        if (f.IsMap)
        {
            var entry = f.MessageType;
            return $"map<{Describe(entry.FindFieldByNumber(1))}, {Describe(entry.FindFieldByNumber(2))}>";
        }
        var element = f.FieldType switch
        {
            FieldType.Message => Relative(f.MessageType.FullName),
            FieldType.Enum => Relative(f.EnumType.FullName),
            var scalar => scalar.ToString().ToLowerInvariant(),
        };
        return f.IsRepeated ? "repeated " + element : element;
    }

    private static string Relative(string fullName) =>
        fullName.StartsWith("runtime.v1.", StringComparison.Ordinal) ? fullName["runtime.v1.".Length..] : fullName;
}
