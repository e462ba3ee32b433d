using Berth.Api.Admin;
using Grpc.Net.Client;

namespace Berth.Cli;

/// <summary>The channel to berthd's admin socket: --address, else BERTH_ADDRESS, else the standard path.</summary>
internal sealed class AdminConnection : IDisposable
{
    /// <summary>Where berthd serves berth.admin.v1 with its default state directory (/run/berth).</summary>
    public const string DefaultAddress = "unix:///run/berth/admin.sock";

    public const string AddressVariable = "BERTH_ADDRESS";

    private readonly GrpcChannel _channel;

    private AdminConnection(string socketPath)
    {
        SocketPath = socketPath;
        _channel = UnixSocketChannel.Create(socketPath);
        Images = new Images.ImagesClient(_channel);
        Containers = new Containers.ContainersClient(_channel);
    }

    public string SocketPath { get; }

    public Images.ImagesClient Images { get; }

    public Containers.ContainersClient Containers { get; }

    /// <summary>Opens a channel (lazily: the first call connects) to the address the flag, the environment or the default gives.</summary>
    /// <exception cref="UsageException">The address is not unix:// followed by an absolute path.</exception>
    public static AdminConnection Open(string? address)
    {
        address ??= Environment.GetEnvironmentVariable(AddressVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : DefaultAddress;
        const string scheme = "unix://";
        if (!address.StartsWith(scheme, StringComparison.Ordinal) || !Path.IsPathFullyQualified(address[scheme.Length..]))
        {
            throw new UsageException($"--address '{address}' must be unix:// followed by an absolute socket path, such as {DefaultAddress}");
        }
        return new AdminConnection(address[scheme.Length..]);
    }

    public void Dispose() => _channel.Dispose();
}

/// <summary>A command line berthctl cannot act on; the message says why.</summary>
internal sealed class UsageException(string message) : Exception(message);
