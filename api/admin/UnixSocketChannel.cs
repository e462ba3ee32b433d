using System.Net.Sockets;
using Grpc.Net.Client;

namespace Berth.Api.Admin;

/// <summary>A gRPC channel to a unix socket, as berthctl and the tests dial berthd: HTTP/2 without TLS, every connection to the socket whatever the URL says.</summary>
public static class UnixSocketChannel
{
    /// <summary>The channel (lazy: the first call connects); messages up to 16 MiB either way, berthd's own limit.</summary>
    public static GrpcChannel Create(string socketPath)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellation) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellation);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 16 << 20,
        });
    }
}
