using Berth.Api.Shim;
using Berth.ImageService.Images;
using Berth.RuntimeService.Cdi;
using Berth.RuntimeService.Validation;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Specs;

/// <summary>The container's image as spec generation needs it: its config, its unpacked layers (topmost first) and its accounts.</summary>
public sealed record ContainerImage(ImageConfig Config, IReadOnlyList<string> LowerDirs, ImageAccounts Accounts);

/// <summary>The pod a container is created in, as its sandbox recorded it.</summary>
/// <param name="PodCgroup">The pod's cgroup (<see cref="CgroupPaths.Pod"/>).</param>
public sealed record PodContext(string SandboxId, Cri.PodSandboxConfig Config, string PodCgroup);

/// <summary>What a container plan is made from.</summary>
/// <param name="ResolveDevice">Host path → what is there (symbolic links followed): devices and block I/O throttles name host device nodes.</param>
/// <param name="Security">What the node offers for seccomp, AppArmor and SELinux, and where Localhost seccomp profiles are.</param>
/// <param name="ResolveCdi">
/// Qualified CDI device names → the edits that bring them (<see cref="CdiRegistry.Resolve"/>); called only when
/// the request asks for CDI devices; throws a domain error naming a device that cannot be resolved.
/// </param>
/// <param name="TargetPidNamespacePath">For pid namespace mode TARGET: the target container's pid namespace (/proc/&lt;pid&gt;/ns/pid).</param>
/// <param name="HostDevices">The node's device nodes, which a privileged container gets; read only for one.</param>
/// <param name="MaxExecs">Commands the container runs at once (streaming.maxExecsPerContainer); 0: the shim's default.</param>
public sealed record ContainerPlanInput(
    Cri.ContainerConfig Config,
    PodContext Pod,
    ContainerImage Image,
    string ContainerId,
    RuntimePaths Paths,
    BlockIoDefaults BlockIo,
    Func<string, DeviceLookup> ResolveDevice,
    NodeSecurity Security,
    Func<IReadOnlyList<string>, IReadOnlyList<CdiEditSet>> ResolveCdi,
    string? TargetPidNamespacePath = null,
    Func<IReadOnlyList<HostDevice>>? HostDevices = null,
    int MaxExecs = 0);

/// <summary>
/// Everything CreateContainer makes on the node, decided before anything is made: the name kubelet
/// reserves, the bundle with the spec and the shim's options, the container's cgroup, its CRI log file,
/// its writable layer and the host paths its bind mounts need.
/// </summary>
/// <param name="Name">The reservation key kubelet relies on: container_pod_namespace_uid_attempt.</param>
/// <param name="LogPath">The CRI log file, always inside the pod's log directory; empty when kubelet asked for none.</param>
/// <param name="HostPaths">Bind mount sources that must exist on the host (missing ones become directories).</param>
/// <param name="PropagatedSources">Bind mount sources whose mount must propagate (<see cref="PropagatedSource"/>), checked on the node before the shim starts.</param>
public sealed record ContainerPlan(
    string Name,
    string Bundle,
    string SocketPath,
    OciSpec Spec,
    ShimOptions Options,
    string CgroupPath,
    string LogPath,
    string WritableLayer,
    IReadOnlyList<string> HostPaths,
    IReadOnlyList<PropagatedSource> PropagatedSources);

/// <summary>
/// A bind mount source asked for HostToContainer or Bidirectional propagation: the host mount it lives on
/// must pass mount events on, or the rslave/rshared bind silently receives nothing (containerd's
/// ensureSharedOrSlave and ensureShared, internal/cri/opts/spec_linux_opts.go WithMounts).
/// </summary>
public sealed record PropagatedSource(string HostPath, Cri.MountPropagation Propagation)
{
    /// <summary>
    /// Refuses a source whose mount (<paramref name="mount"/>, found for <paramref name="resolvedPath"/>,
    /// the host path with its links followed) cannot propagate as asked: HostToContainer needs it shared
    /// or a slave, Bidirectional shared. Throws FailedPrecondition naming the path, its mount point and
    /// what to do, since it is the node's mount that must change, not the request.
    /// </summary>
    public void Require(string resolvedPath, Berth.RuntimeService.Node.SourceMount? mount)
    {
        var sharing = mount?.Sharing ?? Berth.RuntimeService.Node.MountSharing.Private;
        bool bidirectional = Propagation == Cri.MountPropagation.PropagationBidirectional;
        if (sharing == Berth.RuntimeService.Node.MountSharing.Shared
            || (!bidirectional && sharing == Berth.RuntimeService.Node.MountSharing.Slave))
        {
            return;
        }
        string where = resolvedPath == HostPath ? HostPath : $"{HostPath} ({resolvedPath})";
        throw Berth.Core.Errors.BerthException.FailedPrecondition(
            $"mount source {where} is on mount {mount?.MountPoint ?? "/"}, which is {sharing.ToString().ToLowerInvariant()}; "
            + (bidirectional
                ? "Bidirectional propagation needs a shared mount (mount --make-rshared)"
                : "HostToContainer propagation needs a shared or slave mount (mount --make-rshared or --make-rslave)"));
    }
}

/// <summary>The one call that turns a CreateContainer request into a <see cref="ContainerPlan"/>. Pure; throws <see cref="SpecException"/> for what cannot run.</summary>
public static class ContainerPlanner
{
    public static ContainerPlan Plan(ContainerPlanInput input)
    {
        var config = input.Config;
        var pod = input.Pod.Config;
        var podMetadata = pod.Metadata ?? new Cri.PodSandboxMetadata();
        if (config.Metadata is not { Name.Length: > 0 } metadata)
        {
            throw new SpecException("container config metadata needs a name");
        }
        string id = input.ContainerId;
        var paths = input.Paths;
        string bundle = paths.ContainerBundle(id);
        string layer = paths.ContainerLayer(id);
        string cgroup = CgroupPaths.Container(input.Pod.PodCgroup, id);
        string logPath = LogPaths.Join(pod.LogDirectory, config.LogPath) ?? "";

        var built = ContainerSpecBuilder.Build(new ContainerSpecInput(
            config, pod, input.Image.Config, id, input.Pod.SandboxId, Path.Combine(bundle, "rootfs"), cgroup,
            paths.SandboxFiles(input.Pod.SandboxId), input.BlockIo, input.ResolveDevice, input.Security, input.TargetPidNamespacePath,
            input.HostDevices));
        var process = built.Spec.Process!;
        var spec = built.Spec with { Process = process with { User = input.Image.Accounts.Resolve(process.User, built.User) } };
        // CDI edits come last, on the resolved user, as containerd applies WithCDI after every other option.
        var cdiDevices = CdiNames.Requested(config);
        if (cdiDevices.Count > 0)
        {
            spec = CdiSpecEdits.Apply(spec, input.ResolveCdi(cdiDevices), input.ResolveDevice);
        }

        string socket = paths.ShimSocket(id);
        return new ContainerPlan(
            Name: $"{metadata.Name}_{podMetadata.Name}_{podMetadata.Namespace}_{podMetadata.Uid}_{metadata.Attempt}",
            Bundle: bundle,
            SocketPath: socket,
            Spec: spec,
            Options: new ShimOptions
            {
                Kind = ShimKind.Container,
                Id = id,
                SandboxId = input.Pod.SandboxId,
                LogPath = logPath.Length > 0 ? logPath : null,
                LogDirectory = logPath.Length > 0 ? LexicalPath.Clean(pod.LogDirectory) : null,
                Stdin = config.Stdin,
                StdinOnce = config.StdinOnce,
                Tty = config.Tty,
                Rootfs = new RootfsLayers
                {
                    LowerDirs = input.Image.LowerDirs,
                    UpperDir = Path.Combine(layer, "upper"),
                    WorkDir = Path.Combine(layer, "work"),
                },
                SocketPath = socket,
                MaxExecs = input.MaxExecs,
            },
            CgroupPath: cgroup,
            LogPath: logPath,
            WritableLayer: layer,
            HostPaths: config.Mounts.Where(mount => mount.HostPath.Length > 0).Select(mount => mount.HostPath).Distinct().ToList(),
            PropagatedSources: config.Mounts.Where(mount => mount.Propagation != Cri.MountPropagation.PropagationPrivate)
                .Select(mount => new PropagatedSource(mount.HostPath, mount.Propagation)).ToList());
    }
}
