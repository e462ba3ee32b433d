using System.Buffers;
using System.Text;

namespace Berth.Shim.Cgroups;

/// <summary>
/// Reads and writes cgroup control files. Reads go into a caller's buffer and are parsed as spans,
/// so reading a counter at a process's exit allocates nothing; writes are one write(2) per value,
/// as the kernel wants (one devices rule or io.max line per write).
/// </summary>
internal static class CgroupFiles
{
    /// <summary>Room, in bytes, for a small flat-keyed control file (memory.events, memory.oom_control: under 200 bytes).</summary>
    public const int SmallFileBytes = 512;

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

    /// <summary>Reads a small control file into <paramref name="buffer"/>: the byte count, or -1 when it cannot be opened or read.</summary>
    public static int Read(string path, Span<byte> buffer)
    {
        int fd = Interop.Sys.TryOpen(path, Interop.Sys.O_RDONLY, out _);
        if (fd < 0)
        {
            return -1;
        }
        try
        {
            int total = 0;
            while (total < buffer.Length)
            {
                int n = Interop.Sys.Read(fd, buffer[total..]);
                if (n <= 0)
                {
                    break;
                }
                total += n;
            }
            return total;
        }
        catch (ErrnoException)
        {
            return -1;
        }
        finally
        {
            Interop.Sys.Close(fd);
        }
    }

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

    /// <summary>A single-value file: a number, or "max" (<see cref="ulong.MaxValue"/>); false when absent or unparsable.</summary>
    public static bool TryReadUInt64(string path, Span<byte> buffer, out ulong value)
    {
        int n = Read(path, buffer);
        value = 0;
        return n >= 0 && TryParseUInt64(buffer[..n], out value);
    }

    /// <summary>A single-value file's number, or 0 when absent or unparsable.</summary>
    public static ulong ReadUInt64OrZero(string path) => TryReadUInt64(path, stackalloc byte[64], out ulong value) ? value : 0;

    /// <summary>Parses a number or "max" (as <see cref="ulong.MaxValue"/>), ignoring surrounding white space.</summary>
    public static bool TryParseUInt64(ReadOnlySpan<byte> text, out ulong value)
    {
        text = text.Trim((byte)' ').Trim((byte)'\n');
        if (text.SequenceEqual("max"u8))
        {
            value = ulong.MaxValue;
            return true;
        }
        value = 0;
        if (text.IsEmpty)
        {
            return false;
        }
        // v1 files print "-1" nowhere we read, but a negative value means "no limit" anyway.
        if (text[0] == (byte)'-')
        {
            value = ulong.MaxValue;
            return true;
        }
        foreach (byte b in text)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }
            ulong next = value * 10 + (ulong)(b - '0');
            if (next < value)
            {
                value = ulong.MaxValue;
                return true;
            }
            value = next;
        }
        return true;
    }

    /// <summary>The value of <paramref name="key"/> in a flat-keyed file ("key value" lines: memory.stat, memory.events, cpu.stat, memory.oom_control).</summary>
    public static bool TryGetKey(ReadOnlySpan<byte> text, ReadOnlySpan<byte> key, out ulong value)
    {
        while (!text.IsEmpty)
        {
            int end = text.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? text : text[..end];
            text = end < 0 ? default : text[(end + 1)..];
            if (line.Length > key.Length && line[key.Length] == (byte)' ' && line.StartsWith(key))
            {
                return TryParseUInt64(line[(key.Length + 1)..], out value);
            }
        }
        value = 0;
        return false;
    }

    /// <summary><see cref="TryGetKey"/>, or 0 when the key is absent.</summary>
    public static ulong GetKey(ReadOnlySpan<byte> text, ReadOnlySpan<byte> key) => TryGetKey(text, key, out ulong value) ? value : 0;

    /// <summary>The pids of a cgroup.procs text.</summary>
    public static List<int> ParsePids(ReadOnlySpan<byte> text)
    {
        var pids = new List<int>();
        while (!text.IsEmpty)
        {
            int end = text.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? text : text[..end];
            text = end < 0 ? default : text[(end + 1)..];
            if (System.Buffers.Text.Utf8Parser.TryParse(line, out int pid, out int consumed) && consumed == line.Length && pid > 0)
            {
                pids.Add(pid);
            }
        }
        return pids;
    }
}
