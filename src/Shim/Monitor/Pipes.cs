namespace Berth.Shim.Monitor;

/// <summary>Reading the shim's non-blocking ends of a child's output pipes (or its pty master).</summary>
internal static class Pipes
{
    /// <summary>
    /// One read(2) of <paramref name="fd"/> into <paramref name="buffer"/>: the byte count; -1 when
    /// nothing is there now; 0 at end of stream, when <paramref name="fd"/> is closed and set to -1.
    /// A read error counts as the end (EIO: a pty whose last slave descriptor closed).
    /// </summary>
    public static int Read(ref int fd, Span<byte> buffer)
    {
        int n;
        try
        {
            n = Interop.Sys.Read(fd, buffer);
        }
        catch (ErrnoException)
        {
            n = 0;
        }
        if (n == 0)
        {
            Interop.Sys.Close(fd);
            fd = -1;
        }
        return n;
    }
}
