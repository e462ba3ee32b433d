using System.Text;

namespace Berth.Shim.Init;

/// <summary>Writes and reads single-value kernel files (/proc/sys/*, /proc/self/oom_score_adj) with errno-precise failures.</summary>
internal static class ProcFiles
{
    /// <summary>One write(2) of <paramref name="value"/>; failures are <see cref="ErrnoException"/> naming the path and value.</summary>
    public static void Write(string path, string value)
    {
        int fd = Interop.Sys.Open(path, Interop.Sys.O_WRONLY);
        try
        {
            Interop.Sys.WriteAll(fd, Encoding.ASCII.GetBytes(value));
        }
        catch (ErrnoException e)
        {
            throw new ErrnoException(e.Error, "write", $"{path} ({value})");
        }
        finally
        {
            Interop.Sys.Close(fd);
        }
    }

    /// <summary>A kernel file's text, trimmed; null when it cannot be read.</summary>
    public static string? TryRead(string path)
    {
        try
        {
            return ShimFiles.ReadText(path).Trim();
        }
        catch (ErrnoException)
        {
            return null;
        }
    }
}
