using Berth.Api.Shim;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.Validation;

namespace Berth.RuntimeService.Cdi;

/// <summary>
/// Applies CDI container edits to a container's OCI spec as the CDI library's ContainerEdits.Apply does
/// (cncf-tags/container-device-interface pkg/cdi/container-edits.go): environment variables set or
/// replaced, device nodes added (replacing one at the same path) with a device cgroup rule each, mounts
/// added (replacing one at the same destination) and then ordered by depth, supplementary groups added,
/// hooks appended to the spec's list of their name (berth-shim runs them where runc does, see <see cref="OciHooks"/>).
/// Pure: the host's device nodes and paths come from <c>resolve</c>.
/// </summary>
/// <remarks>
/// Refused rather than ignored, because berth-shim cannot honour them: intelRdt and netDevices.
/// </remarks>
public static class CdiSpecEdits
{
    /// <summary>
    /// The spec with <paramref name="edits"/> applied in order. Run after the user is resolved: a device node
    /// without its own uid/gid takes the process's when not root, as the library does. Throws
    /// <see cref="SpecException"/> naming the edit's origin.
    /// </summary>
    public static OciSpec Apply(OciSpec spec, IReadOnlyList<CdiEditSet> edits, Func<string, DeviceLookup> resolve)
    {
        if (edits.Count == 0)
        {
            return spec;
        }
        var process = spec.Process ?? new OciProcess();
        var linux = spec.Linux ?? new LinuxConfig();
        var env = new List<string>(process.Env ?? []);
        var devices = new List<LinuxDevice>(linux.Devices ?? []);
        var rules = new List<LinuxDeviceCgroup>(linux.Resources?.Devices ?? []);
        var mounts = new List<OciMount>(spec.Mounts ?? []);
        var groups = new List<uint>(process.User.AdditionalGids ?? []);
        var hooks = new Dictionary<string, List<OciHook>>(StringComparer.Ordinal);
        bool mountsChanged = false;
        foreach (var (origin, edit) in edits)
        {
            Refuse(origin, edit);
            foreach (string entry in edit.Env ?? [])
            {
                SetEnv(env, entry);
            }
            foreach (var node in edit.DeviceNodes ?? [])
            {
                var device = DeviceNode(origin, node, process.User, resolve);
                devices.RemoveAll(existing => existing.Path == device.Path);
                devices.Add(device);
                string access = node.Permissions switch { null or "" => "rwm", "none" => "", var given => given };
                if (device.Type is "b" or "c" && access.Length > 0)
                {
                    rules.Add(new LinuxDeviceCgroup { Allow = true, Type = device.Type, Major = device.Major, Minor = device.Minor, Access = access });
                }
            }
            foreach (var mount in edit.Mounts ?? [])
            {
                var oci = Mount(origin, mount, resolve);
                mounts.RemoveAll(existing => existing.Destination == oci.Destination);
                mounts.Add(oci);
                mountsChanged = true;
            }
            foreach (var hook in edit.Hooks ?? [])
            {
                HooksNamed(hooks, spec.Hooks, hook.HookName).Add(Hook(origin, hook, resolve));
            }
            foreach (uint gid in edit.AdditionalGids ?? [])
            {
                if (gid != 0 && !groups.Contains(gid))
                {
                    groups.Add(gid);
                }
            }
        }
        ContainerDevices.RefuseOnBindMounts(devices, mounts);
        return spec with
        {
            Process = process with { Env = env, User = process.User with { AdditionalGids = groups.Count > 0 ? groups : null } },
            // A stable sort by depth, as the library's sortMounts: a parent is mounted before what goes inside it.
            Mounts = mountsChanged ? mounts.OrderBy(mount => SpecPaths.Depth(LexicalPath.Clean(mount.Destination))).ToList() : mounts,
            Linux = linux with
            {
                Devices = devices.Count > 0 ? devices : null,
                Resources = (linux.Resources ?? new LinuxResources()) with { Devices = rules },
            },
            Hooks = hooks.Count == 0 ? spec.Hooks : (spec.Hooks ?? new OciHooks()) with
            {
                Prestart = hooks.GetValueOrDefault("prestart") ?? spec.Hooks?.Prestart,
                CreateRuntime = hooks.GetValueOrDefault("createRuntime") ?? spec.Hooks?.CreateRuntime,
                CreateContainer = hooks.GetValueOrDefault("createContainer") ?? spec.Hooks?.CreateContainer,
                StartContainer = hooks.GetValueOrDefault("startContainer") ?? spec.Hooks?.StartContainer,
                Poststart = hooks.GetValueOrDefault("poststart") ?? spec.Hooks?.Poststart,
                Poststop = hooks.GetValueOrDefault("poststop") ?? spec.Hooks?.Poststop,
            },
        };
    }

    /// <summary>The list of hooks named <paramref name="name"/> being built: the spec's own first, then the edits' in order.</summary>
    private static List<OciHook> HooksNamed(Dictionary<string, List<OciHook>> hooks, OciHooks? existing, string name)
    {
        if (!hooks.TryGetValue(name, out var list))
        {
            var before = name switch
            {
                "prestart" => existing?.Prestart,
                "createRuntime" => existing?.CreateRuntime,
                "createContainer" => existing?.CreateContainer,
                "startContainer" => existing?.StartContainer,
                "poststart" => existing?.Poststart,
                _ => existing?.Poststop,
            };
            hooks[name] = list = [.. before ?? []];
        }
        return list;
    }

    /// <summary>
    /// The longest timeout a CDI hook may ask for, seconds: kubelet's runtime request timeout (2 min) bounds the
    /// CreateContainer it runs in, and a create stuck in a hook holds RemoveContainer and StopPodSandbox of its pod
    /// until the hook ends.
    /// </summary>
    public const int MaxHookTimeoutSeconds = 120;

    /// <summary>
    /// A CDI hook as an OCI hook. Its path must be absolute and, but for a startContainer hook (which runs in the
    /// container's root), exist on the node: checked here, INVALID_ARGUMENT naming the device and the path, rather
    /// than met by the shim as a failed create.
    /// </summary>
    private static OciHook Hook(string origin, CdiHook hook, Func<string, DeviceLookup> resolve)
    {
        string path = hook.HookName == "startContainer"
            ? SpecPaths.RequireContainerPath(hook.Path, $"{origin}: {hook.HookName} hook path")
            : SpecPaths.RequireHostPath(hook.Path, $"{origin}: {hook.HookName} hook path");
        if (hook.HookName != "startContainer" && !resolve(path).Exists)
        {
            throw new SpecException($"{origin}: {hook.HookName} hook {path} does not exist on this node");
        }
        if (hook.Timeout is <= 0 or > MaxHookTimeoutSeconds)
        {
            throw new SpecException($"{origin}: {hook.HookName} hook {path} has timeout {hook.Timeout}; it must be 1 to {MaxHookTimeoutSeconds} seconds");
        }
        return new OciHook { Path = path, Args = hook.Args, Env = hook.Env, Timeout = hook.Timeout };
    }

    private static void Refuse(string origin, CdiContainerEdits edit)
    {
        if (edit.IntelRdt is not null)
        {
            throw new SpecException($"{origin} sets intelRdt, which berth does not apply");
        }
        if (edit.NetDevices is { Count: > 0 })
        {
            throw new SpecException($"{origin} moves network devices (netDevices), which berth does not do");
        }
    }

    /// <summary>NAME=VALUE replaces an entry of the same name in place, else is appended (runtime-tools' AddMultipleProcessEnv).</summary>
    private static void SetEnv(List<string> env, string entry)
    {
        string name = entry[..(entry.IndexOf('=') + 1)];
        int at = env.FindIndex(existing => existing.StartsWith(name, StringComparison.Ordinal));
        if (at >= 0)
        {
            env[at] = entry;
        }
        else
        {
            env.Add(entry);
        }
    }

    /// <summary>
    /// The library's fillMissingInfo: the host node (hostPath, else path) gives the file mode when none is
    /// given, and type and numbers unless the node gives a type and a major (a fifo needs none); a missing host
    /// node is an error only when the spec does not say enough.
    /// </summary>
    private static LinuxDevice DeviceNode(string origin, CdiDeviceNode node, OciUser user, Func<string, DeviceLookup> resolve)
    {
        string path = SpecPaths.RequireContainerPath(node.Path, $"{origin}: device node path");
        string hostPath = SpecPaths.RequireHostPath(node.HostPath is { Length: > 0 } given ? given : node.Path, $"{origin}: device node hostPath");
        string type = node.Type ?? "";
        bool described = type.Length > 0 && (node.Major != 0 || type == "p");
        var lookup = resolve(hostPath);
        var host = described ? lookup.Device : lookup.Require($"{origin}: host device {hostPath}");
        long major = node.Major, minor = node.Minor;
        if (host is not null && !described)
        {
            string hostType = host.Type.ToString();
            if (type.Length > 0 && type != hostType)
            {
                throw new SpecException($"{origin}: device node {path} has type {type}, but {hostPath} is of type {hostType}");
            }
            type = hostType;
            if (major == 0)
            {
                (major, minor) = (host.Major, host.Minor);
            }
        }
        return new LinuxDevice
        {
            Path = path,
            Type = type,
            Major = major,
            Minor = minor,
            FileMode = node.FileMode ?? host?.FileMode,
            Uid = node.Uid ?? (user.Uid > 0 ? user.Uid : null),
            Gid = node.Gid ?? (user.Gid > 0 ? user.Gid : null),
        };
    }

    /// <summary>
    /// A CDI mount as an OCI mount: no type, or "bind", is a bind mount (rbind unless the options say bind). A bind's
    /// hostPath must exist on the node: checked here (INVALID_ARGUMENT naming the device and the path, as a missing
    /// device node is) rather than met by the shim's mount as a bare ENOENT after the container was half made.
    /// </summary>
    private static OciMount Mount(string origin, CdiMount mount, Func<string, DeviceLookup> resolve)
    {
        string destination = SpecPaths.RequireContainerPath(mount.ContainerPath, $"{origin}: mount containerPath");
        var options = new List<string>(mount.Options ?? []);
        string type = mount.Type is { Length: > 0 } given ? given : "bind";
        if (type == "bind")
        {
            SpecPaths.RequireHostPath(mount.HostPath, $"{origin}: mount hostPath");
            if (!resolve(mount.HostPath).Exists)
            {
                throw new SpecException($"{origin}: mount hostPath {mount.HostPath} (for {destination}) does not exist on this node");
            }
            if (!options.Contains("bind") && !options.Contains("rbind"))
            {
                options.Add("rbind");
            }
        }
        return new OciMount { Destination = destination, Type = type, Source = mount.HostPath, Options = options };
    }
}
