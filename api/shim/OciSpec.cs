namespace Berth.Api.Shim;

// The OCI runtime-spec configuration (config.json) in the subset a CRI runtime writes and runs:
// https://github.com/opencontainers/runtime-spec/blob/main/config.md and config-linux.md.
// JSON names follow the spec (camelCase via OciJsonContext); absent values are null and are not
// written. Unknown members (hooks, windows, ...) are ignored when reading.

public sealed record OciSpec
{
    public string OciVersion { get; init; } = "1.2.0";
    public OciProcess? Process { get; init; }
    public OciRoot? Root { get; init; }
    public string? Hostname { get; init; }
    public string? Domainname { get; init; }
    public IReadOnlyList<OciMount>? Mounts { get; init; }
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
    public LinuxConfig? Linux { get; init; }

    /// <summary>The lifecycle hooks (runtime-spec config.md "POSIX-platform Hooks"); null or empty lists: none.</summary>
    public OciHooks? Hooks { get; init; }
}

/// <summary>
/// config.json <c>hooks</c>, where and when berth-shim runs each list, as runc's libcontainer does:
/// <c>prestart</c> (deprecated) and <c>createRuntime</c> by the shim in the runtime's namespaces once the container's
/// mounts are made, before pivot_root; <c>createContainer</c> by the init stage in the container's namespaces at that
/// same point (paths resolve in the host's file system, which the new mount namespace still sees);
/// <c>startContainer</c> by the init stage after Start, as the container's user, just before execve (paths resolve in
/// the container's root); <c>poststart</c> by the shim after the process started; <c>poststop</c> by the shim when
/// the container is deleted. A failing hook fails Create (or Start) and the container, except poststop, whose
/// failures are only logged.
/// </summary>
public sealed record OciHooks
{
    public IReadOnlyList<OciHook>? Prestart { get; init; }
    public IReadOnlyList<OciHook>? CreateRuntime { get; init; }
    public IReadOnlyList<OciHook>? CreateContainer { get; init; }
    public IReadOnlyList<OciHook>? StartContainer { get; init; }
    public IReadOnlyList<OciHook>? Poststart { get; init; }
    public IReadOnlyList<OciHook>? Poststop { get; init; }
}

/// <summary>
/// One hook: <see cref="Path"/> (absolute) run with <see cref="Args"/> as its whole argv (argv[0] included; the path
/// alone when absent) and exactly <see cref="Env"/> (NAME=VALUE) as its environment, the container's state
/// (<see cref="OciState"/>) on its stdin; killed and failed after <see cref="Timeout"/> seconds.
/// </summary>
public sealed record OciHook
{
    public string Path { get; init; } = "";
    public IReadOnlyList<string>? Args { get; init; }
    public IReadOnlyList<string>? Env { get; init; }
    /// <summary>Seconds; null: the shim's own limit (<c>HookRunner.DefaultTimeoutSeconds</c>), since a hook that never ends would hang Create.</summary>
    public int? Timeout { get; init; }
}

/// <summary>The container's state as a hook reads it on stdin (runtime-spec runtime.md "State").</summary>
public sealed record OciState
{
    public string OciVersion { get; init; } = "1.2.0";
    public string Id { get; init; } = "";
    /// <summary><c>creating</c>, <c>created</c>, <c>running</c> or <c>stopped</c>.</summary>
    public string Status { get; init; } = "";
    /// <summary>The container's process on the host; absent once it is gone.</summary>
    public int? Pid { get; init; }
    public string Bundle { get; init; } = "";
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
}

/// <summary>What an exec takes from a running container's config.json (<see cref="OciJson.ParseExecSpec"/>): its process and seccomp filter.</summary>
public sealed record OciExecSpec
{
    public OciProcess? Process { get; init; }
    public OciExecLinux? Linux { get; init; }
}

/// <summary>The <c>linux</c> object of <see cref="OciExecSpec"/>: only its seccomp filter.</summary>
public sealed record OciExecLinux
{
    public LinuxSeccomp? Seccomp { get; init; }
}

public sealed record OciProcess
{
    public bool Terminal { get; init; }
    public OciBox? ConsoleSize { get; init; }
    public OciUser User { get; init; } = new();
    public IReadOnlyList<string>? Args { get; init; }
    public IReadOnlyList<string>? Env { get; init; }
    public string Cwd { get; init; } = "/";
    public OciCapabilities? Capabilities { get; init; }
    public IReadOnlyList<OciRlimit>? Rlimits { get; init; }
    public bool NoNewPrivileges { get; init; }
    /// <summary>The AppArmor profile the process execs into (written to /proc/self/attr/apparmor/exec); null: none.</summary>
    public string? ApparmorProfile { get; init; }
    public int? OomScoreAdj { get; init; }
    public string? SelinuxLabel { get; init; }
}

public sealed record OciBox
{
    public uint Height { get; init; }
    public uint Width { get; init; }
}

public sealed record OciUser
{
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public uint? Umask { get; init; }
    public IReadOnlyList<uint>? AdditionalGids { get; init; }
}

/// <summary>Capability names as the spec writes them: <c>CAP_CHOWN</c>, <c>CAP_NET_BIND_SERVICE</c>, ...</summary>
public sealed record OciCapabilities
{
    public IReadOnlyList<string>? Bounding { get; init; }
    public IReadOnlyList<string>? Effective { get; init; }
    public IReadOnlyList<string>? Inheritable { get; init; }
    public IReadOnlyList<string>? Permitted { get; init; }
    public IReadOnlyList<string>? Ambient { get; init; }
}

/// <summary>An rlimit: <c>RLIMIT_NOFILE</c>, <c>RLIMIT_NPROC</c>, ...</summary>
public sealed record OciRlimit
{
    public string Type { get; init; } = "";
    public ulong Hard { get; init; }
    public ulong Soft { get; init; }
}

public sealed record OciRoot
{
    /// <summary>Absolute, or relative to the bundle directory.</summary>
    public string Path { get; init; } = "rootfs";
    public bool Readonly { get; init; }
}

public sealed record OciMount
{
    public string Destination { get; init; } = "";
    public string? Type { get; init; }
    public string? Source { get; init; }
    public IReadOnlyList<string>? Options { get; init; }
}

/// <summary>The spec's <c>linux</c> object.</summary>
public sealed record LinuxConfig
{
    public IReadOnlyList<LinuxIdMapping>? UidMappings { get; init; }
    public IReadOnlyList<LinuxIdMapping>? GidMappings { get; init; }
    public IReadOnlyDictionary<string, string>? Sysctl { get; init; }
    public LinuxResources? Resources { get; init; }
    /// <summary>Relative to each cgroup hierarchy's mount point (cgroupfs driver), e.g. <c>kubepods/besteffort/pod&lt;uid&gt;/&lt;id&gt;</c>.</summary>
    public string? CgroupsPath { get; init; }
    public IReadOnlyList<LinuxNamespace>? Namespaces { get; init; }
    public IReadOnlyList<LinuxDevice>? Devices { get; init; }
    public LinuxSeccomp? Seccomp { get; init; }
    public string? RootfsPropagation { get; init; }
    public IReadOnlyList<string>? MaskedPaths { get; init; }
    public IReadOnlyList<string>? ReadonlyPaths { get; init; }
    public string? MountLabel { get; init; }
}

public sealed record LinuxIdMapping
{
    public uint ContainerID { get; init; }
    public uint HostID { get; init; }
    public uint Size { get; init; }
}

/// <summary>The namespace type names of the spec.</summary>
public static class LinuxNamespaceType
{
    public const string Pid = "pid";
    public const string Network = "network";
    public const string Mount = "mount";
    public const string Ipc = "ipc";
    public const string Uts = "uts";
    public const string User = "user";
    public const string Cgroup = "cgroup";
    public const string Time = "time";
}

/// <summary>A namespace to create (no <see cref="Path"/>) or to join (the path of a namespace file).</summary>
public sealed record LinuxNamespace
{
    public string Type { get; init; } = "";
    public string? Path { get; init; }
}

public sealed record LinuxResources
{
    public IReadOnlyList<LinuxDeviceCgroup>? Devices { get; init; }
    public LinuxMemory? Memory { get; init; }
    public LinuxCpu? Cpu { get; init; }
    public LinuxPids? Pids { get; init; }
    public LinuxBlockIO? BlockIO { get; init; }
    public IReadOnlyList<LinuxHugepageLimit>? HugepageLimits { get; init; }
    /// <summary>cgroup v2 files and values, e.g. <c>memory.high</c>.</summary>
    public IReadOnlyDictionary<string, string>? Unified { get; init; }
}

public sealed record LinuxDeviceCgroup
{
    public bool Allow { get; init; }
    /// <summary><c>a</c> (all), <c>c</c> or <c>b</c>.</summary>
    public string? Type { get; init; }
    public long? Major { get; init; }
    public long? Minor { get; init; }
    /// <summary>Some of <c>rwm</c>.</summary>
    public string? Access { get; init; }
}

public sealed record LinuxMemory
{
    public long? Limit { get; init; }
    public long? Reservation { get; init; }
    /// <summary>Memory plus swap.</summary>
    public long? Swap { get; init; }
    public long? Kernel { get; init; }
    public long? KernelTCP { get; init; }
    public ulong? Swappiness { get; init; }
    public bool? DisableOOMKiller { get; init; }
    public bool? UseHierarchy { get; init; }
}

public sealed record LinuxCpu
{
    public ulong? Shares { get; init; }
    /// <summary>Microseconds per period; -1 or absent: no limit.</summary>
    public long? Quota { get; init; }
    public ulong? Burst { get; init; }
    /// <summary>Microseconds.</summary>
    public ulong? Period { get; init; }
    public long? RealtimeRuntime { get; init; }
    public ulong? RealtimePeriod { get; init; }
    /// <summary>A cpuset list, e.g. <c>0-3,6</c>.</summary>
    public string? Cpus { get; init; }
    public string? Mems { get; init; }
    public long? Idle { get; init; }
}

public sealed record LinuxPids
{
    /// <summary>0 or negative: no limit.</summary>
    public long Limit { get; init; }
}

public sealed record LinuxBlockIO
{
    public ushort? Weight { get; init; }
    public ushort? LeafWeight { get; init; }
    public IReadOnlyList<LinuxWeightDevice>? WeightDevice { get; init; }
    public IReadOnlyList<LinuxThrottleDevice>? ThrottleReadBpsDevice { get; init; }
    public IReadOnlyList<LinuxThrottleDevice>? ThrottleWriteBpsDevice { get; init; }
    public IReadOnlyList<LinuxThrottleDevice>? ThrottleReadIOPSDevice { get; init; }
    public IReadOnlyList<LinuxThrottleDevice>? ThrottleWriteIOPSDevice { get; init; }
}

public sealed record LinuxWeightDevice
{
    public long Major { get; init; }
    public long Minor { get; init; }
    public ushort? Weight { get; init; }
    public ushort? LeafWeight { get; init; }
}

public sealed record LinuxThrottleDevice
{
    public long Major { get; init; }
    public long Minor { get; init; }
    public ulong Rate { get; init; }
}

public sealed record LinuxHugepageLimit
{
    /// <summary>e.g. <c>2MB</c>, <c>1GB</c>.</summary>
    public string PageSize { get; init; } = "";
    public ulong Limit { get; init; }
}

/// <summary>A device node to create in the container's /dev.</summary>
public sealed record LinuxDevice
{
    public string Path { get; init; } = "";
    /// <summary><c>c</c>, <c>b</c>, <c>u</c> or <c>p</c>.</summary>
    public string Type { get; init; } = "c";
    public long Major { get; init; }
    public long Minor { get; init; }
    public uint? FileMode { get; init; }
    public uint? Uid { get; init; }
    public uint? Gid { get; init; }
}

/// <summary>
/// The container's seccomp filter (<c>linux.seccomp</c>): the action for system calls no rule matches,
/// the architectures it covers (the native one when empty) and the rules. Also the format of a Localhost
/// profile file. Checked by <see cref="SeccompRules.Problem"/>; absent means no filter.
/// </summary>
public sealed record LinuxSeccomp
{
    /// <summary><c>SCMP_ACT_ERRNO</c>, <c>SCMP_ACT_ALLOW</c>, ...; required (empty when a profile file lacks it).</summary>
    public string DefaultAction { get; init; } = "";
    /// <summary>The errno of a default SCMP_ACT_ERRNO; EPERM when absent.</summary>
    public uint? DefaultErrnoRet { get; init; }
    /// <summary><c>SCMP_ARCH_X86_64</c>, <c>SCMP_ARCH_X86</c>, ...</summary>
    public IReadOnlyList<string>? Architectures { get; init; }
    /// <summary><c>SECCOMP_FILTER_FLAG_LOG</c>, <c>SECCOMP_FILTER_FLAG_SPEC_ALLOW</c>, <c>SECCOMP_FILTER_FLAG_TSYNC</c>.</summary>
    public IReadOnlyList<string>? Flags { get; init; }
    public IReadOnlyList<LinuxSyscall>? Syscalls { get; init; }
}

/// <summary>One rule: the named system calls take <see cref="Action"/> when every argument comparison holds.</summary>
public sealed record LinuxSyscall
{
    public IReadOnlyList<string> Names { get; init; } = [];
    public string Action { get; init; } = "";
    /// <summary>The errno of SCMP_ACT_ERRNO (or the value of SCMP_ACT_TRACE); EPERM when absent.</summary>
    public uint? ErrnoRet { get; init; }
    public IReadOnlyList<LinuxSeccompArg>? Args { get; init; }
}

/// <summary>A comparison of one argument (index 0..5) with <see cref="Value"/> (and, for SCMP_CMP_MASKED_EQ, the mask first: arg &amp; Value == ValueTwo).</summary>
public sealed record LinuxSeccompArg
{
    public uint Index { get; init; }
    public ulong Value { get; init; }
    public ulong ValueTwo { get; init; }
    /// <summary><c>SCMP_CMP_EQ</c>, <c>SCMP_CMP_MASKED_EQ</c>, ...</summary>
    public string Op { get; init; } = "";
}
