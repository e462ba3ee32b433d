namespace Berth.Api.Shim.Cgroups;

/// <summary>
/// Reading cgroup control files, for both programs: the shim reads a counter at a process's exit and
/// berthd samples usage for CRI stats. Reads go into the caller's buffer and are parsed as spans, so
/// the shim's loop allocates nothing; files that are gone (a cgroup removed meanwhile) read as absent.
/// </summary>
public static class CgroupText
{
    /// <summary>Room, in bytes, for a small flat-keyed control file (memory.events, memory.oom_control, cpu.pressure: under 200 bytes).</summary>
    public const int SmallFileBytes = 512;

    /// <summary>Room, in bytes, for memory.stat (about 1.5 KiB on v1 and v2 today) and cpu.stat.</summary>
    public const int StatFileBytes = 8192;

    /// <summary>Reads a control file into <paramref name="buffer"/>: the byte count, or -1 when it cannot be opened or read.</summary>
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
