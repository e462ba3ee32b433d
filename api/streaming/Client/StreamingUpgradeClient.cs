using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Api.Streaming.Spdy;

namespace Berth.Api.Streaming.Client;

/// <summary>The streaming server refused the upgrade: the HTTP status and the body it sent.</summary>
public sealed class StreamingUpgradeException(int status, string body)
    : IOException($"the streaming server answered {status}: {body.Trim()}")
{
    public int Status { get; } = status;
    public string Body { get; } = body;
}

/// <summary>
/// The client side of the SPDY/3.1 upgrade (client-go's spdy.SpdyRoundTripper): an HTTP/1.1 POST with
/// <c>Connection: Upgrade</c>, <c>Upgrade: SPDY/3.1</c> and one X-Stream-Protocol-Version header per
/// protocol offered, then a SPDY connection over the same socket once the server answers 101.
/// </summary>
public static class StreamingUpgradeClient
{
    private const int MaxResponseHead = 64 * 1024;

    /// <summary>Opens <paramref name="url"/> (http or https) and upgrades it; the protocol is what the server chose.</summary>
    /// <exception cref="StreamingUpgradeException">The server answered something other than 101.</exception>
    public static async Task<(SpdyConnection Connection, string Protocol)> UpgradeSpdyAsync(
        Uri url, IReadOnlyList<string> protocols, CancellationToken cancellationToken, RemoteCertificateValidationCallback? certificateValidation = null)
    {
        Stream transport = await ConnectAsync(url, certificateValidation, cancellationToken);
        try
        {
            var request = new StringBuilder();
            request.Append(CultureInfo.InvariantCulture, $"POST {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\n");
            request.Append("Connection: Upgrade\r\n").Append(CultureInfo.InvariantCulture, $"Upgrade: {StreamProtocols.Spdy31}\r\n");
            foreach (string protocol in protocols)
            {
                request.Append(CultureInfo.InvariantCulture, $"{StreamProtocols.ProtocolHeader}: {protocol}\r\n");
            }
            request.Append("Content-Length: 0\r\n\r\n");
            await transport.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), cancellationToken);
            await transport.FlushAsync(cancellationToken);

            var (status, headers) = await ReadResponseHeadAsync(transport, cancellationToken);
            if (status != 101)
            {
                throw new StreamingUpgradeException(status, await ReadBodyAsync(transport, headers, cancellationToken));
            }
            string chosen = headers.GetValueOrDefault(StreamProtocols.ProtocolHeader.ToLowerInvariant(), "");
            var connection = new SpdyConnection(transport, isServer: false, new SpdyConnectionOptions { AnnounceSettings = true });
            await connection.StartAsync(cancellationToken);
            return (connection, chosen);
        }
        catch
        {
            await transport.DisposeAsync();
            throw;
        }
    }

    private static async Task<Stream> ConnectAsync(Uri url, RemoteCertificateValidationCallback? certificateValidation, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(url.Host.Trim('[', ']'), url.Port, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var network = new NetworkStream(socket, ownsSocket: true);
        if (url.Scheme != Uri.UriSchemeHttps)
        {
            return network;
        }
        var tls = new SslStream(network, leaveInnerStreamOpen: false, certificateValidation);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = url.Host }, cancellationToken);
        return tls;
    }

    /// <summary>The status line and headers (names lowercase, repeated ones joined by commas), read byte by byte so nothing after them is consumed.</summary>
    private static async Task<(int Status, Dictionary<string, string> Headers)> ReadResponseHeadAsync(Stream transport, CancellationToken cancellationToken)
    {
        var head = new List<byte>();
        byte[] one = new byte[1];
        while (head.Count < 4 || head[^4] != '\r' || head[^3] != '\n' || head[^2] != '\r' || head[^1] != '\n')
        {
            if (await transport.ReadAsync(one, cancellationToken) == 0 || head.Count > MaxResponseHead)
            {
                throw new IOException("the streaming server closed the connection before a complete response");
            }
            head.Add(one[0]);
        }
        string[] lines = Encoding.ASCII.GetString([.. head]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        string[] statusLine = lines[0].Split(' ', 3);
        int status = int.Parse(statusLine[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon > 0)
            {
                string name = line[..colon].Trim().ToLowerInvariant();
                string value = line[(colon + 1)..].Trim();
                headers[name] = headers.TryGetValue(name, out string? before) ? $"{before}, {value}" : value;
            }
        }
        return (status, headers);
    }

    private static async Task<string> ReadBodyAsync(Stream transport, Dictionary<string, string> headers, CancellationToken cancellationToken)
    {
        byte[] body;
        if (headers.TryGetValue("content-length", out string? length) && int.TryParse(length, out int count) && count <= MaxResponseHead)
        {
            body = new byte[count];
            await transport.ReadExactlyAsync(body, cancellationToken);
        }
        else
        {
            using var all = new MemoryStream();
            await transport.CopyToAsync(all, cancellationToken);
            body = all.ToArray();
        }
        return Encoding.UTF8.GetString(body);
    }
}
