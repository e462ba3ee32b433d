using System.Net.Sockets;
using Grpc.Net.Client;

namespace Berth.Api.Admin;

/// <summary>A gRPC channel to a unix socket, as berthctl and the tests dial berthd: HTTP/2 without TLS, every connection to the socket whatever the URL says.</summary>
public static class UnixSocketChannel
{
    /// <summary>The channel (lazy: the first call connects).</summary>
    /// <param name="socketPath">The unix socket berthd (or containerd) serves on.</param>
    /// <param name="maxReceiveBytes">The largest reply taken; by default 16 MiB, berthd's own limit.</param>
    /// <param name="manyConnections">Open more HTTP/2 connections when one's streams are all in use (a benchmark's parallel calls).</param>
    public static GrpcChannel Create(string socketPath, int maxReceiveBytes = 16 << 20, bool manyConnections = false)
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
            EnableMultipleHttp2Connections = manyConnections,
        };
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = maxReceiveBytes,
        });
    }
}
