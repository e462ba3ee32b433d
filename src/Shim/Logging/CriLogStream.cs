namespace Berth.Shim.Logging;

/// <summary>
/// Cuts one output stream (stdout or stderr) into CRI log entries: a full line becomes an
/// <c>F</c> entry (its "\n" or "\r\n" dropped); a line longer than <see cref="MaxLineLength"/> is
/// written as <c>P</c> (partial) entries of that size followed by an <c>F</c> entry for the rest,
/// as containerd does. Text without a newline waits for more, and is written as <c>P</c> at end of stream.
/// </summary>
internal sealed class CriLogStream
{
    public const int MaxLineLength = 16 * 1024;

    private static ReadOnlySpan<byte> StdoutName => "stdout"u8;
    private static ReadOnlySpan<byte> StderrName => "stderr"u8;

    private readonly byte[] _pending = new byte[MaxLineLength];
    private readonly bool _stderr;
    private int _pendingLength;

    public CriLogStream(bool stderr)
    {
        _stderr = stderr;
    }

    private ReadOnlySpan<byte> Name => _stderr ? StderrName : StdoutName;

    /// <summary>Feeds bytes read from the stream at <paramref name="unixNanos"/>.</summary>
    public void Write(ReadOnlySpan<byte> data, long unixNanos, CriLogFile log)
    {
        while (!data.IsEmpty)
        {
            int newline = data.IndexOf((byte)'\n');
            ReadOnlySpan<byte> segment = newline >= 0 ? data[..newline] : data;
            int room = MaxLineLength - _pendingLength;
            if (segment.Length > room)
            {
                log.Append(unixNanos, Name, partial: true, _pending.AsSpan(0, _pendingLength), segment[..room]);
                _pendingLength = 0;
                data = data[room..];
                continue;
            }
            if (newline >= 0)
            {
                ReadOnlySpan<byte> head = _pending.AsSpan(0, _pendingLength);
                if (!segment.IsEmpty && segment[^1] == (byte)'\r')
                {
                    segment = segment[..^1];
                }
                else if (segment.IsEmpty && !head.IsEmpty && head[^1] == (byte)'\r')
                {
                    head = head[..^1];
                }
                log.Append(unixNanos, Name, partial: false, head, segment);
                _pendingLength = 0;
                data = data[(newline + 1)..];
                continue;
            }
            segment.CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += segment.Length;
            data = default;
        }
    }

    /// <summary>The stream ended: what waits for a newline is written as a partial entry (it never got its newline), as containerd does.</summary>
    public void End(long unixNanos, CriLogFile log)
    {
        if (_pendingLength > 0)
        {
            log.Append(unixNanos, Name, partial: true, _pending.AsSpan(0, _pendingLength), default);
            _pendingLength = 0;
        }
    }
}
