using Microsoft.Win32.SafeHandles;

namespace Berth.Shim.Spawn;

/// <summary>
/// A terminal made inside the container, as runc's console socket does it: a stage (init for the
/// container's first process, exec for an exec session) opens /dev/ptmx once it stands in the
/// container's mount namespace, so the pty comes from the container's own devpts instance (the
/// newinstance mount at /dev/pts, ptmxmode=0666) and <c>tty</c> there names a /dev/pts/N that exists
/// in the container. The stage makes the slave its stdio and controlling terminal and sends the master
/// to the monitor over a unix socket (SCM_RIGHTS) on descriptor <see cref="Fd"/>; the monitor then uses
/// the master as it would one it had opened itself.
/// </summary>
internal static class ConsoleSocket
{
    /// <summary>The stage's end of the socket (init and exec use 3 to 5 for other things).</summary>
    public const int Fd = 6;

    /// <summary>The byte the master rides on.</summary>
    private const byte Marker = (byte)'T';

    /// <summary>
    /// The stage's side, in the container's mount namespace after setsid(2): a pty from the container's
    /// /dev/ptmx whose slave becomes descriptors 0, 1 and 2 and the controlling terminal, owned by
    /// <paramref name="uid"/> (runc's fixStdioPermissions: a non-root process may reopen and chmod its
    /// terminal); the master goes to the monitor and neither the socket nor the master stays open here.
    /// </summary>
    /// <exception cref="ErrnoException">No devpts in the container, or the monitor is gone.</exception>
    public static void TakeTerminal(uint uid)
    {
        var (master, slave) = Interop.Sys.OpenPty();
        try
        {
            for (int fd = 0; fd < 3; fd++)
            {
                Interop.Sys.Dup2(slave, fd);
            }
            Interop.Sys.Close(slave);
            Interop.Sys.SetControllingTerminal(0);
            if (uid != 0)
            {
                // uint.MaxValue is fchown's -1: the group (tty, from gid=5) stays.
                Interop.Sys.FChown(new SafeFileHandle(0, ownsHandle: false), uid, uint.MaxValue, "the terminal");
            }
            if (Interop.Sys.SendWithRights(Fd, [Marker], [master]) != 1)
            {
                throw new ErrnoException(Interop.Errno.EAGAIN, "sendmsg", "the console socket");
            }
        }
        finally
        {
            Interop.Sys.Close(master);
            Interop.Sys.Close(Fd);
        }
    }

    /// <summary>
    /// The monitor's side, without waiting: the master the stage sent on <paramref name="socket"/>
    /// (close-on-exec), -1 when nothing has arrived yet.
    /// </summary>
    /// <exception cref="InvalidOperationException">The stage closed its end without sending one (it failed first).</exception>
    public static int TryReceiveMaster(int socket)
    {
        Span<byte> data = stackalloc byte[1];
        Span<int> descriptors = stackalloc int[1];
        int n = Interop.Sys.ReceiveWithRights(socket, data, descriptors, out int count);
        if (n < 0)
        {
            return -1;
        }
        if (n == 0 || count != 1 || data[0] != Marker)
        {
            for (int i = 0; i < count; i++)
            {
                Interop.Sys.Close(descriptors[i]);
            }
            throw new InvalidOperationException("the stage ended before it sent its terminal");
        }
        return descriptors[0];
    }
}
