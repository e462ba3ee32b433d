using System.Buffers;
using System.Text;

namespace Berth.Shim.Cgroups;

/// <summary>
/// Writes cgroup control files, one write(2) per value as the kernel wants (one devices rule or io.max
/// line per write), and reads the whole of a file at set-up. Counters and stat files are read with
/// <see cref="Berth.Api.Shim.Cgroups.CgroupText"/>, which berthd's stats share.
/// </summary>
internal static class CgroupFiles
{
    /// <summary>Writes <paramref name="value"/>; ENOENT becomes <see cref="CgroupUnsupportedException"/> (with <paramref name="missingHint"/>), any other errno <see cref="CgroupWriteException"/>.</summary>
    public static void Write(string path, string value, string? missingHint = null, string? refusedHint = null)
    {
        Interop.Errno error = TryWrite(path, value);
        if (error == 0)
        {
            return;
        }
        if (error == Interop.Errno.ENOENT)
        {
            string name = System.IO.Path.GetFileName(path);
            throw new CgroupUnsupportedException(
                missingHint is null ? $"this kernel has no {name} ({path})" : $"this kernel has no {name} ({path}): {missingHint}", path);
        }
        throw new CgroupWriteException(error, path, value, refusedHint ?? HintFor(error));
    }

    /// <summary>Writes <paramref name="value"/>; 0 on success, else the errno.</summary>
    public static Interop.Errno TryWrite(string path, string value)
    {
        // O_TRUNC as runc opens them: cgroupfs ignores it, a plain file (tests) then holds just the value.
        int fd = Interop.Sys.TryOpen(path, Interop.Sys.O_WRONLY | Interop.Sys.O_TRUNC, out Interop.Errno error);
        if (fd < 0)
        {
            return error;
        }
        try
        {
            Interop.Sys.WriteAll(fd, Encoding.ASCII.GetBytes(value));
            return 0;
        }
        catch (ErrnoException e)
        {
            return e.Error;
        }
        finally
        {
            Interop.Sys.Close(fd);
        }
    }

    private static string? HintFor(Interop.Errno error) => error switch
    {
        Interop.Errno.EBUSY => "the cgroup is in use (a limit below current usage, or tasks or children present)",
        Interop.Errno.EPERM or Interop.Errno.EACCES => "not permitted (a parent's limit is tighter, or a capability is missing)",
        Interop.Errno.EINVAL => "the kernel rejected the value (out of range, or outside what the parent allows)",
        Interop.Errno.ENOSPC => "no room (cpuset outside the parent's, or no subtree controller)",
        _ => null,
    };

    /// <summary>A whole control file of any size (cgroup.procs), or null when it cannot be read.</summary>
    public static byte[]? ReadAll(string path)
    {
        int fd = Interop.Sys.TryOpen(path, Interop.Sys.O_RDONLY, out _);
        if (fd < 0)
        {
            return null;
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            int total = 0;
            while (true)
            {
                if (total == buffer.Length)
                {
                    byte[] bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, total).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                int n = Interop.Sys.Read(fd, buffer.AsSpan(total));
                if (n <= 0)
                {
                    break;
                }
                total += n;
            }
            return buffer.AsSpan(0, total).ToArray();
        }
        catch (ErrnoException)
        {
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Interop.Sys.Close(fd);
        }
    }

    /// <summary>A file's text trimmed, or null when it cannot be read (setup paths only: it allocates).</summary>
    public static string? ReadText(string path)
    {
        byte[]? bytes = ReadAll(path);
        return bytes is null ? null : Encoding.ASCII.GetString(bytes).Trim();
    }
}
