using Tmds.DBus.Protocol;

namespace Berth.RuntimeService.Node.Systemd;

/// <summary>
/// The few calls of systemd's manager (org.freedesktop.systemd1(5)) the systemd cgroup driver makes, over
/// Tmds.DBus.Protocol (NativeAOT-clean; messages written by hand, no reflection): start a transient unit, set
/// properties, stop a unit, read a unit's state and cgroup. One connection, opened by <see cref="ConnectAsync"/>.
/// Errors: a bus that cannot be reached throws <see cref="DBusConnectFailedException"/>; a call systemd does not answer within
/// <see cref="CallTimeout"/> <see cref="TimeoutException"/>; a refused call
/// <see cref="DBusErrorReplyException"/> with systemd's error name (e.g. org.freedesktop.systemd1.NoSuchUnit).
/// </summary>
public sealed class SystemdManager : IAsyncDisposable
{
    private const string Service = "org.freedesktop.systemd1";
    private const string ManagerPath = "/org/freedesktop/systemd1";
    private const string ManagerInterface = "org.freedesktop.systemd1.Manager";
    private const string UnitInterface = "org.freedesktop.systemd1.Unit";
    private const string PropertiesInterface = "org.freedesktop.DBus.Properties";

    /// <summary>How long one call may wait for systemd's answer: a manager that hangs is an error, not a hang of berthd.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    private readonly DBusConnection _connection;

    private SystemdManager(DBusConnection connection) => _connection = connection;

    /// <summary>
    /// Connects to <paramref name="address"/>, a D-Bus address such as <c>unix:path=/run/systemd/private</c>
    /// (systemd's own socket, root only, what systemctl uses) or the system bus. Throws <see cref="TimeoutException"/>
    /// when the handshake takes longer than <paramref name="timeout"/>.
    /// </summary>
    public static async Task<SystemdManager> ConnectAsync(string address, TimeSpan timeout)
    {
        var connection = new DBusConnection(new SystemdBusOptions(address) { AutoConnect = false });
        try
        {
            await connection.ConnectAsync().AsTask().WaitAsync(timeout);
            return new SystemdManager(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>systemd's version string (the manager's Version property, e.g. "252.38-1~deb12u1").</summary>
    public Task<string> VersionAsync() => GetStringAsync(ManagerPath, ManagerInterface, "Version");

    /// <summary>StartTransientUnit(name, "replace", properties, []): returns the job's object path.</summary>
    public Task<string> StartTransientUnitAsync(string name, IReadOnlyList<UnitProperty> properties)
    {
        var writer = _connection.GetMessageWriter();
        try
        {
            writer.WriteMethodCallHeader(destination: Service, path: ManagerPath, @interface: ManagerInterface,
                member: "StartTransientUnit", signature: "ssa(sv)a(sa(sv))");
            writer.WriteString(name);
            writer.WriteString("replace");
            WriteProperties(ref writer, properties);
            var aux = writer.WriteArrayStart(DBusType.Struct);
            writer.WriteArrayEnd(aux);
            return _connection.CallMethodAsync(writer.CreateMessage(), static (Message message, object? _) => message.GetBodyReader().ReadObjectPathAsString(), null)
                .WaitAsync(CallTimeout);
        }
        finally
        {
            writer.Dispose();
        }
    }

    /// <summary>SetUnitProperties(name, runtime=true, properties): limits changed on a live unit.</summary>
    public Task SetUnitPropertiesAsync(string name, IReadOnlyList<UnitProperty> properties)
    {
        var writer = _connection.GetMessageWriter();
        try
        {
            writer.WriteMethodCallHeader(destination: Service, path: ManagerPath, @interface: ManagerInterface,
                member: "SetUnitProperties", signature: "sba(sv)");
            writer.WriteString(name);
            writer.WriteBool(true);
            WriteProperties(ref writer, properties);
            return _connection.CallMethodAsync(writer.CreateMessage()).WaitAsync(CallTimeout);
        }
        finally
        {
            writer.Dispose();
        }
    }

    /// <summary>StopUnit(name, "replace"); a unit systemd does not have (already gone) is no error.</summary>
    public async Task StopUnitAsync(string name)
    {
        try
        {
            await _connection.CallMethodAsync(StopMessage(name)).WaitAsync(CallTimeout);
        }
        catch (DBusErrorReplyException error) when (error.ErrorName == "org.freedesktop.systemd1.NoSuchUnit")
        {
        }
    }

    /// <summary>The unit's ActiveState (active, activating, inactive, failed, ...), loading it if needed.</summary>
    public async Task<string> ActiveStateAsync(string name) => await GetStringAsync(await LoadUnitAsync(name), UnitInterface, "ActiveState");

    /// <summary>The cgroup path of a slice or scope (its ControlGroup property), "" when it has none yet.</summary>
    public async Task<string> ControlGroupAsync(string name)
    {
        string path = await LoadUnitAsync(name);
        string type = name.EndsWith(".scope", StringComparison.Ordinal) ? "Scope" : "Slice";
        return await GetStringAsync(path, $"org.freedesktop.systemd1.{type}", "ControlGroup");
    }

    public ValueTask DisposeAsync()
    {
        _connection.Dispose();
        return ValueTask.CompletedTask;
    }

    private MessageBuffer StopMessage(string name)
    {
        using var writer = _connection.GetMessageWriter();
        writer.WriteMethodCallHeader(destination: Service, path: ManagerPath, @interface: ManagerInterface, member: "StopUnit", signature: "ss");
        writer.WriteString(name);
        writer.WriteString("replace");
        return writer.CreateMessage();
    }

    private Task<string> LoadUnitAsync(string name)
    {
        using var writer = _connection.GetMessageWriter();
        writer.WriteMethodCallHeader(destination: Service, path: ManagerPath, @interface: ManagerInterface, member: "LoadUnit", signature: "s");
        writer.WriteString(name);
        return _connection.CallMethodAsync(writer.CreateMessage(), static (Message message, object? _) => message.GetBodyReader().ReadObjectPathAsString(), null)
            .WaitAsync(CallTimeout);
    }

    private Task<string> GetStringAsync(string path, string @interface, string property)
    {
        using var writer = _connection.GetMessageWriter();
        writer.WriteMethodCallHeader(destination: Service, path: path, @interface: PropertiesInterface, member: "Get", signature: "ss");
        writer.WriteString(@interface);
        writer.WriteString(property);
        return _connection.CallMethodAsync(writer.CreateMessage(), static (Message message, object? _) => message.GetBodyReader().ReadVariantValue().GetString(), null)
            .WaitAsync(CallTimeout);
    }

    /// <summary>a(sv): each property's name and its value as a variant of the type systemd declares.</summary>
    private static void WriteProperties(ref MessageWriter writer, IReadOnlyList<UnitProperty> properties)
    {
        var array = writer.WriteArrayStart(DBusType.Struct);
        foreach (var property in properties)
        {
            writer.WriteStructureStart();
            writer.WriteString(property.Name);
            switch (property.Value)
            {
                case UnitString text:
                    writer.WriteVariantString(text.Value);
                    break;
                case UnitBool flag:
                    writer.WriteVariantBool(flag.Value);
                    break;
                case UnitUInt64 number:
                    writer.WriteVariantUInt64(number.Value);
                    break;
                case UnitUInt32Array numbers:
                    writer.WriteSignature("au");
                    writer.WriteArray(numbers.Value.ToArray());
                    break;
                case UnitBytes bytes:
                    writer.WriteSignature("ay");
                    writer.WriteArray(bytes.Value.ToArray());
                    break;
                case UnitPairs pairs:
                    writer.WriteSignature("a(ss)");
                    var entries = writer.WriteArrayStart(DBusType.Struct);
                    foreach (var (first, second) in pairs.Value)
                    {
                        writer.WriteStructureStart();
                        writer.WriteString(first);
                        writer.WriteString(second);
                    }
                    writer.WriteArrayEnd(entries);
                    break;
                default:
                    throw new ArgumentException($"unit property {property.Name} has a value of no D-Bus type");
            }
        }
        writer.WriteArrayEnd(array);
    }
}
