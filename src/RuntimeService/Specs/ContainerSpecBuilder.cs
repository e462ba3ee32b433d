using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.ImageService.Images;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// A container's OCI spec from kubelet's CreateContainer request, the pod's config and the image's
/// config, by the rules kubelet expects of containerd's CRI plugin. Pure: what needs the host or the
/// rootfs comes in as input (<see cref="ContainerSpecInput.ResolveDevice"/>) or goes out as a
/// <see cref="UserLookup"/>.
/// </summary>
public static class ContainerSpecBuilder
{
    /// <summary>containerd's (oci.WithDefaultPathEnv) PATH when the image sets none.</summary>
    public const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>Paths hidden from an unprivileged container (containerd's defaults, as kubelet sends them).</summary>
    public static readonly IReadOnlyList<string> DefaultMaskedPaths =
    [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ];

    /// <summary>Paths an unprivileged container sees read-only.</summary>
    public static readonly IReadOnlyList<string> DefaultReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    /// <summary>Builds the spec; throws <see cref="SpecException"/> when the request cannot run as asked.</summary>
    public static ContainerSpec Build(ContainerSpecInput input)
    {
        var config = input.Config;
        var security = config.Linux?.SecurityContext;
        var pod = PodNamespaces.Of(input.Sandbox);
        bool privileged = security?.Privileged ?? false;
        if (privileged && input.Sandbox.Linux?.SecurityContext?.Privileged != true)
        {
            throw new SpecException("a privileged container needs a privileged pod sandbox");
        }
        bool readonlyRootfs = security?.ReadonlyRootfs ?? false;
        string? hostname = pod.HostNetwork || input.Sandbox.Hostname.Length == 0 ? null : input.Sandbox.Hostname;

        var (user, lookup) = UserSpec.Resolve(security, input.Image);
        var mounts = ContainerMounts.For(config, input.SandboxFiles, pod, privileged, readonlyRootfs);
        var devices = ContainerDevices.For(config.Devices, privileged, input.ResolveDevice,
            privileged ? ContainerDevices.NotOnBinds(input.HostDevices?.Invoke() ?? [], mounts.Mounts) : []);
        ContainerDevices.RefuseOnBindMounts(devices.Nodes, mounts.Mounts);
        var blockIo = BlockIoSettings.For(input.Sandbox.Annotations, input.BlockIoDefaults, input.ResolveDevice);
        var resources = config.Linux?.Resources;
        var capabilities = Capabilities.For(security?.Capabilities, privileged);
        SecurityProfiles.RefuseSelinux(security?.SelinuxOptions, "the container", input.Security.SelinuxEnabled);

        var spec = new OciSpec
        {
            Process = new OciProcess
            {
                Terminal = config.Tty,
                User = user,
                Args = Args(config, input.Image),
                Env = Environment(config, input.Image, input.Sandbox.Hostname),
                Cwd = WorkingDirectory(config, input.Image),
                Capabilities = capabilities,
                NoNewPrivileges = security?.NoNewPrivs ?? false,
#pragma warning disable CS0612 // the deprecated name is still the fallback kubelet may send
                ApparmorProfile = SecurityProfiles.AppArmor(security?.Apparmor, security?.ApparmorProfile ?? "", privileged, input.Security),
#pragma warning restore CS0612
                OomScoreAdj = ContainerResources.OomScoreAdj(resources),
            },
            Root = new OciRoot { Path = input.RootfsPath, Readonly = readonlyRootfs },
            Hostname = hostname,
            Mounts = mounts.Mounts,
            Annotations = Annotations(input),
            Linux = new LinuxConfig
            {
                Resources = ContainerResources.For(resources, devices.Rules, blockIo),
                CgroupsPath = input.CgroupsPath,
                Namespaces = Namespaces(input, pod),
                Devices = devices.Nodes.Count > 0 ? devices.Nodes : null,
                Seccomp = SecurityProfiles.Seccomp(security, privileged, capabilities.Bounding ?? [], input.Security),
                RootfsPropagation = mounts.RootfsPropagation,
                MaskedPaths = privileged ? null : ProcPaths(security?.MaskedPaths, DefaultMaskedPaths, "masked path"),
                ReadonlyPaths = privileged ? null : ProcPaths(security?.ReadonlyPaths, DefaultReadonlyPaths, "readonly path"),
            },
        };
        return new ContainerSpec(spec, lookup);
    }

    /// <summary>
    /// kubelet's rules (as containerd's WithProcessArgs): command replaces the image's ENTRYPOINT and,
    /// given alone, drops its CMD; args alone replace CMD after the image's ENTRYPOINT; neither runs
    /// ENTRYPOINT + CMD. An ENTRYPOINT of [""] is Docker's way of writing "none".
    /// </summary>
    internal static IReadOnlyList<string> Args(ContainerConfig config, ImageConfig image)
    {
        IReadOnlyList<string> command = config.Command;
        IReadOnlyList<string> args = config.Args;
        if (command.Count == 0)
        {
            if (args.Count == 0)
            {
                args = image.Cmd;
            }
            command = image.Entrypoint is [""] ? [] : image.Entrypoint;
        }
        var all = command.Concat(args).ToList();
        if (all.Count == 0)
        {
            throw new SpecException("no command specified: neither the container config nor the image gives one");
        }
        return all;
    }

    /// <summary>
    /// containerd's order: a default PATH and HOSTNAME first, then the image's ENV, then the
    /// container's envs; a later value replaces an earlier one of the same name in its place.
    /// </summary>
    internal static IReadOnlyList<string> Environment(ContainerConfig config, ImageConfig image, string hostname)
    {
        var env = new EnvironmentList();
        env.Set(DefaultPath);
        if (hostname.Length > 0)
        {
            env.Set($"HOSTNAME={hostname}");
        }
        foreach (string entry in image.Env)
        {
            env.Set(entry);
        }
        foreach (KeyValue pair in config.Envs)
        {
            if (pair.Key.Length == 0 || pair.Key.Contains('=') || pair.Key.Contains('\0'))
            {
                throw new SpecException($"environment variable name \"{pair.Key}\" is empty or contains '=' or NUL");
            }
            string value = pair.Value.ToStringUtf8();
            if (value.Contains('\0'))
            {
                throw new SpecException($"environment variable {pair.Key} contains a NUL character");
            }
            env.Set($"{pair.Key}={value}");
        }
        return env.ToList();
    }

    internal static string WorkingDirectory(ContainerConfig config, ImageConfig image)
    {
        if (config.WorkingDir.Length > 0)
        {
            return SpecPaths.RequireContainerPath(config.WorkingDir, "working_dir");
        }
        if (image.WorkingDir is { Length: > 0 } imageDir)
        {
            return SpecPaths.RequireContainerPath(imageDir, "the image's WORKDIR");
        }
        return "/";
    }

    private static List<LinuxNamespace> Namespaces(ContainerSpecInput input, PodNamespaces pod)
    {
        var options = input.Config.Linux?.SecurityContext?.NamespaceOptions;
        PodNamespaces.RefuseUserNamespace(options?.UsernsOptions, "the container");
        string dir = input.SandboxFiles.NamespaceDir;
        var namespaces = new List<LinuxNamespace>();

        // The pod-wide ones join the sandbox's pins; a host namespace is simply not listed.
        if (!pod.HostNetwork)
        {
            namespaces.Add(new LinuxNamespace { Type = LinuxNamespaceType.Network, Path = NamespacePins.PathOf(dir, LinuxNamespaceType.Network) });
            namespaces.Add(new LinuxNamespace { Type = LinuxNamespaceType.Uts, Path = NamespacePins.PathOf(dir, LinuxNamespaceType.Uts) });
        }
        if (!pod.HostIpc)
        {
            namespaces.Add(new LinuxNamespace { Type = LinuxNamespaceType.Ipc, Path = NamespacePins.PathOf(dir, LinuxNamespaceType.Ipc) });
        }
        switch (options?.Pid ?? NamespaceMode.Pod)
        {
            case NamespaceMode.Pod:
                // The sandbox's pid namespace, as containerd joins the pause container's: the pod's own
                // when its mode is POD or CONTAINER, the host's when it is NODE.
                if (!pod.HostPid)
                {
                    namespaces.Add(new LinuxNamespace { Type = LinuxNamespaceType.Pid, Path = NamespacePins.PathOf(dir, LinuxNamespaceType.Pid) });
                }
                break;
            case NamespaceMode.Container:
                namespaces.Add(new LinuxNamespace { Type = LinuxNamespaceType.Pid });
                break;
            case NamespaceMode.Node:
                break;
            case NamespaceMode.Target:
                string target = input.TargetPidNamespacePath is { Length: > 0 } path
                    ? SpecPaths.RequireHostPath(path, "target pid namespace")
                    : throw new SpecException($"the container targets the pid namespace of container \"{options!.TargetId}\", which is not known");
                namespaces.Add(new LinuxNamespace { Type = LinuxNamespaceType.Pid, Path = target });
                break;
            default:
                throw new SpecException($"pid namespace mode {CriNames.Of(options!.Pid)} is unknown");
        }
        namespaces.Add(new LinuxNamespace { Type = LinuxNamespaceType.Mount });
        return namespaces;
    }

    /// <summary>
    /// kubelet sends the masked and read-only paths for every unprivileged container (its procMount
    /// Default); a request without them gets containerd's defaults. An empty list cannot be told apart
    /// from an absent one in proto3, so "Unmasked" (which Kubernetes allows only with user namespaces,
    /// not supported here) also gets the defaults.
    /// </summary>
    private static IReadOnlyList<string> ProcPaths(IReadOnlyList<string>? requested, IReadOnlyList<string> defaults, string what)
    {
        if (requested is not { Count: > 0 })
        {
            return defaults;
        }
        return requested.Select(path => SpecPaths.RequireContainerPath(path, what)).ToList();
    }

    private static Dictionary<string, string> Annotations(ContainerSpecInput input)
    {
        var config = input.Config;
        var annotations = new Dictionary<string, string>(config.Annotations, StringComparer.Ordinal);
        // Written last: the request's own annotations cannot pose as these.
        var sandbox = input.Sandbox;
        annotations[SpecAnnotations.ContainerType] = SpecAnnotations.ContainerTypeContainer;
        annotations[SpecAnnotations.SandboxId] = input.SandboxId;
        annotations[SpecAnnotations.SandboxName] = sandbox.Metadata?.Name ?? "";
        annotations[SpecAnnotations.SandboxNamespace] = sandbox.Metadata?.Namespace ?? "";
        annotations[SpecAnnotations.SandboxUid] = sandbox.Metadata?.Uid ?? "";
        annotations[SpecAnnotations.ContainerName] = config.Metadata?.Name ?? "";
        annotations[SpecAnnotations.ImageName] = config.Image is { } image
            ? image.UserSpecifiedImage.Length > 0 ? image.UserSpecifiedImage : image.Image
            : "";
        return annotations;
    }

    /// <summary>NAME=VALUE entries in first-seen order; setting a name again replaces its value in place.</summary>
    private sealed class EnvironmentList
    {
        private readonly List<string> _entries = [];
        private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

        public void Set(string entry)
        {
            int equals = entry.IndexOf('=');
            string name = equals < 0 ? entry : entry[..equals];
            if (_index.TryGetValue(name, out int at))
            {
                _entries[at] = entry;
            }
            else
            {
                _index[name] = _entries.Count;
                _entries.Add(entry);
            }
        }

        public List<string> ToList() => [.. _entries];
    }
}
