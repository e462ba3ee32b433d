using System.Net.Sockets;
using System.Text;

namespace Berth.RuntimeService.Hosting;

/// <summary>
/// sd_notify(3) without libsystemd: one datagram of "KEY=VALUE" lines to the unix socket systemd names in
/// $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@'). Nothing when the variable is unset
/// (berthd not run by a Type=notify unit). Errors are returned, not thrown: the caller logs them.
/// </summary>
public static class SystemdNotify
{
    /// <summary>The variable systemd sets for a Type=notify service.</summary>
    public const string SocketVariable = "NOTIFY_SOCKET";

    /// <summary>Sends <paramref name="state"/> (e.g. "READY=1\nSTATUS=serving") when $NOTIFY_SOCKET is set; the error text when sending failed, else null.</summary>
    public static string? Send(string state)
    {
        string? address = Environment.GetEnvironmentVariable(SocketVariable);
        if (string.IsNullOrEmpty(address))
        {
            return null;
        }
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(address[0] == '@' ? "\0" + address[1..] : address));
            socket.Send(Encoding.UTF8.GetBytes(state));
            return null;
        }
        catch (SocketException error)
        {
            return $"sd_notify to {address}: {error.Message}";
        }
    }
}
