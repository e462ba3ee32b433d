using Berth.Api.Shim;
using Berth.Api.Shim.Cgroups;
using Berth.Core.Errors;
using Berth.RuntimeService.Specs;
using Tmds.DBus.Protocol;

namespace Berth.RuntimeService.Node.Systemd;

/// <summary>
/// The systemd cgroup driver: pod slices and container scopes are systemd units made over D-Bus, the way runc's
/// systemd driver makes them (a transient <c>berth-&lt;id&gt;.scope</c> in the pod's slice, Delegate=yes, the limits
/// as unit properties; the shim writes the files systemd has no property for). <see cref="StartAsync"/> connects
/// and fails at start when systemd is not there or refuses: never a silent fallback to cgroupfs.
/// </summary>
public sealed class SystemdCgroupDriver : ICgroupDriver, IAsyncDisposable
{
    /// <summary>How long a unit may take to become active after its start job was queued.</summary>
    private static readonly TimeSpan ActivationTimeout = TimeSpan.FromSeconds(10);

    private readonly SystemdManager _systemd;
    private readonly INodeOperations _node;
    private readonly int _cgroupVersion;

    private SystemdCgroupDriver(SystemdManager systemd, INodeOperations node, CgroupNaming naming, int cgroupVersion, string description)
    {
        _systemd = systemd;
        _node = node;
        Naming = naming;
        _cgroupVersion = cgroupVersion;
        Description = description;
    }

    public CgroupNaming Naming { get; }

    /// <summary>What berthd logs at start: systemd's version, its address, root cgroup and the cgroup version.</summary>
    public string Description { get; }

    /// <summary>
    /// Connects to systemd at <paramref name="busAddress"/> and reads its version and root cgroup. Throws
    /// FailedPrecondition naming the address and what went wrong when systemd cannot be reached or answers an error.
    /// </summary>
    public static async Task<SystemdCgroupDriver> StartAsync(string busAddress, INodeOperations node)
    {
        SystemdManager? systemd = null;
        try
        {
            systemd = await SystemdManager.ConnectAsync(busAddress, SystemdManager.CallTimeout);
            string version = await systemd.VersionAsync();
            string root = await systemd.ControlGroupAsync("-.slice");
            int cgroupVersion = CgroupLayout.Detect(null).Version;
            return new SystemdCgroupDriver(systemd, node, new CgroupNaming(CgroupDriverKind.Systemd, root), cgroupVersion,
                $"systemd {version} at {busAddress}, root cgroup \"{root}\", cgroup v{cgroupVersion}");
        }
        catch (Exception error) when (error is DBusExceptionBase or IOException or System.Net.Sockets.SocketException or TimeoutException or ArgumentException)
        {
            if (systemd is not null)
            {
                await systemd.DisposeAsync();
            }
            throw BerthException.FailedPrecondition(Unreachable(busAddress, error), error);
        }
    }

    /// <summary>
    /// Why systemd could not be used, in the operator's terms. A socket that cannot be connected is named with what
    /// is wrong with it, not with .NET's socket error (a missing unix socket is EADDRNOTAVAIL there), and with the
    /// way out on a node without systemd.
    /// </summary>
    public static string Unreachable(string busAddress, Exception error)
    {
        const string Alternative = "set cgroupDriver to cgroupfs on a node where systemd does not manage cgroups";
        var socketError = error;
        while (socketError is not (null or System.Net.Sockets.SocketException))
        {
            socketError = socketError.InnerException;
        }
        if (socketError is System.Net.Sockets.SocketException failed)
        {
            string path = busAddress.StartsWith("unix:path=", StringComparison.Ordinal) ? busAddress["unix:path=".Length..].Split(',')[0] : busAddress;
            string why = failed.SocketErrorCode switch
            {
                System.Net.Sockets.SocketError.AddressNotAvailable when !File.Exists(path) => "the socket does not exist",
                System.Net.Sockets.SocketError.ConnectionRefused => "nothing listens on the socket",
                System.Net.Sockets.SocketError.AccessDenied => "berthd may not connect to the socket (systemd's private socket is root's)",
                _ => $"connecting to the socket failed ({failed.SocketErrorCode})",
            };
            return $"cgroupDriver is systemd but no systemd is reachable at {path} (systemdBusAddress {busAddress}): {why}; "
                + $"systemd must run as PID 1 of berthd's PID namespace, or {Alternative}";
        }
        return $"cgroupDriver is systemd but systemd does not answer at {busAddress}: {error.Message}; {Alternative}";
    }

    public async Task PreparePodAsync(string podCgroup, CancellationToken ct)
    {
        if (_node.CgroupExists(podCgroup) || CgroupPaths.UnitName(podCgroup) is not { } slice)
        {
            return;
        }
        await StartAsync(slice, UnitProperties.Slice($"berth pod slice {slice}"), ct);
    }

    public async Task AdoptAsync(string cgroupPath, int pid, LinuxResources? resources, CancellationToken ct)
    {
        string scope = UnitOf(cgroupPath);
        string slice = CgroupPaths.UnitName(cgroupPath[..cgroupPath.TrimEnd('/').LastIndexOf('/')]) ?? "-.slice";
        var properties = Properties(() => UnitProperties.Scope($"berth container {scope}", slice, pid, resources, _cgroupVersion, DeviceGroups.Name), scope);
        await StartAsync(scope, properties, ct);
    }

    public async Task UpdateAsync(string cgroupPath, LinuxResources resources, CancellationToken ct)
    {
        string scope = UnitOf(cgroupPath);
        var properties = Properties(() => UnitProperties.Resources(resources, _cgroupVersion, DeviceGroups.Name), scope);
        await CallAsync(scope, "set properties of", () => _systemd.SetUnitPropertiesAsync(scope, properties));
    }

    public async Task ReleaseAsync(string cgroupPath)
    {
        if (CgroupPaths.UnitName(cgroupPath) is { } scope)
        {
            await CallAsync(scope, "stop", () => _systemd.StopUnitAsync(scope));
        }
    }

    public async Task<bool> TryRemoveLevelAsync(string level)
    {
        if (CgroupPaths.UnitName(level) is not { } slice)
        {
            return _node.TryRemoveEmptyCgroup(level);
        }
        if (!_node.CgroupIsEmpty(level))
        {
            return false;
        }
        await CallAsync(slice, "stop", () => _systemd.StopUnitAsync(slice));
        // systemd removes the slice's cgroup in the hierarchies it manages; on v1 the shim also made it in others (cpuset, freezer...).
        return _node.TryRemoveEmptyCgroup(level);
    }

    public ValueTask DisposeAsync() => _systemd.DisposeAsync();

    private static string UnitOf(string cgroupPath) =>
        CgroupPaths.UnitName(cgroupPath) ?? throw BerthException.Internal($"cgroup {cgroupPath} is not a systemd unit");

    private static IReadOnlyList<UnitProperty> Properties(Func<IReadOnlyList<UnitProperty>> make, string unit)
    {
        try
        {
            return make();
        }
        catch (ArgumentException error)
        {
            throw BerthException.InvalidArgument($"{unit}: {error.Message}");
        }
    }

    /// <summary>Starts a transient unit and waits until systemd reports it active; FailedPrecondition when it fails or refuses.</summary>
    private async Task StartAsync(string unit, IReadOnlyList<UnitProperty> properties, CancellationToken ct)
    {
        await CallAsync(unit, "start", () => _systemd.StartTransientUnitAsync(unit, properties));
        var deadline = DateTime.UtcNow + ActivationTimeout;
        while (true)
        {
            string state = "";
            await CallAsync(unit, "read the state of", async () => state = await _systemd.ActiveStateAsync(unit));
            if (state == "active")
            {
                return;
            }
            if (state == "failed" || DateTime.UtcNow > deadline)
            {
                throw BerthException.FailedPrecondition($"systemd unit {unit} did not start: it is {state}");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(5), ct);
        }
    }

    private static async Task CallAsync(string unit, string what, Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (Exception error) when (error is DBusExceptionBase or TimeoutException)
        {
            string reason = error is DBusErrorReplyException reply ? $"{reply.ErrorName}: {reply.Message}" : error.Message;
            throw BerthException.FailedPrecondition($"systemd refused to {what} unit {unit}: {reason}", error);
        }
    }
}

/// <summary>Device majors by name, as /proc/devices lists them ("136 pts" under "Character devices:").</summary>
public static class DeviceGroups
{
    /// <summary>The name of major <paramref name="major"/> of kind 'c' or 'b' on this node; null when none.</summary>
    public static string? Name(char kind, long major) => Parse(File.ReadAllText("/proc/devices"), kind, major);

    /// <summary>The same, from a /proc/devices text.</summary>
    public static string? Parse(string text, char kind, long major)
    {
        bool inSection = false;
        foreach (string line in text.Split('\n'))
        {
            if (line.EndsWith("devices:", StringComparison.Ordinal))
            {
                inSection = line.StartsWith(kind == 'c' ? "Character" : "Block", StringComparison.Ordinal);
                continue;
            }
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (inSection && fields.Length == 2 && long.TryParse(fields[0], out long number) && number == major)
            {
                return fields[1];
            }
        }
        return null;
    }
}
