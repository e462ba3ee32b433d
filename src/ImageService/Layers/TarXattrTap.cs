using System.Text;

namespace Berth.ImageService.Layers;

/// <summary>
/// Follows the tar framing of the bytes <see cref="System.Formats.Tar.TarReader"/> reads through it, for two things
/// the reader does not give:
/// <list type="bullet">
/// <item>the PAX "SCHILY.xattr.*" values as bytes. TarReader decodes them as UTF-8, replacing what is not UTF-8 with
/// U+FFFD, and binary values are common: security.capability (cap_setuid is a 0x80 byte) and other vfs_cap_data.</item>
/// <item>a bound on metadata members: a PAX header or GNU long name larger than 1 MiB (Go's archive/tar limit) is
/// refused before the reader allocates it.</item>
/// </list>
/// TarReader consumes a member's header before returning its entry and its data only when asked, so when it returns
/// entry N this tap has just framed header N. The raw values are cross-checked with the reader's decoded ones
/// (<see cref="ResolveXattrs"/>), so a framing disagreement can never put one entry's xattrs on another.
/// </summary>
internal sealed class TarXattrTap : Stream
{
    /// <summary>Go's archive/tar maxSpecialFileSize: PAX records and GNU long names above it are refused.</summary>
    public const int MaxMetadataSize = 1 << 20;

    private const int BlockSize = 512;
    private const string PaxXattrPrefix = "SCHILY.xattr.";
    private static readonly IReadOnlyDictionary<string, byte[]> NoXattrs = new Dictionary<string, byte[]>();

    private readonly Stream _inner;
    private readonly byte[] _header = new byte[BlockSize];
    private int _headerFill;

    // The data of the current member still to pass, block padding included.
    private long _dataRemaining;

    // The data of a PAX 'x' member being collected.
    private byte[]? _pax;
    private int _paxFill;

    private Dictionary<string, byte[]>? _pendingXattrs;
    private long? _pendingSize;

    // After the end-of-archive block, or once the framing could not be followed: nothing more is observed.
    private bool _stopped;
    private bool _lost;

    public TarXattrTap(Stream inner) => _inner = inner;

    /// <summary>How many members other than PAX 'x' and GNU 'L'/'K' headers have been framed: TarReader's entries.</summary>
    public long EntriesFramed { get; private set; }

    /// <summary>The raw xattrs of the last framed entry; null once the framing was lost.</summary>
    public IReadOnlyDictionary<string, byte[]>? EntryXattrs => _lost ? null : _entryXattrs;

    private IReadOnlyDictionary<string, byte[]> _entryXattrs = NoXattrs;

    /// <summary>
    /// The entry's SCHILY.xattr.* records as (name, value bytes). The tap's bytes are used when it framed the same entry
    /// (<paramref name="entriesReturned"/> agrees) and they decode to the reader's string; otherwise the reader's string,
    /// which is exact when it holds no U+FFFD. A value that is neither is refused rather than written mangled.
    /// </summary>
    public List<KeyValuePair<string, byte[]>> ResolveXattrs(System.Formats.Tar.TarEntry entry, long entriesReturned)
    {
        var result = new List<KeyValuePair<string, byte[]>>();
        if (entry is not System.Formats.Tar.PaxTarEntry pax)
        {
            return result;
        }

        IReadOnlyDictionary<string, byte[]>? raw = entriesReturned == EntriesFramed ? EntryXattrs : null;
        foreach ((string key, string value) in pax.ExtendedAttributes)
        {
            if (!key.StartsWith(PaxXattrPrefix, StringComparison.Ordinal))
            {
                continue;
            }
            string name = key[PaxXattrPrefix.Length..];
            byte[] bytes;
            if (raw is not null && raw.TryGetValue(name, out byte[]? exact) && Encoding.UTF8.GetString(exact) == value)
            {
                bytes = exact;
            }
            else if (!value.Contains('\uFFFD'))
            {
                bytes = Encoding.UTF8.GetBytes(value);
            }
            else
            {
                throw new InvalidLayerException(
                    $"entry '{entry.Name}': the value of xattr '{name}' is not UTF-8 and could not be read byte for byte");
            }
            result.Add(new(name, bytes));
        }
        return result;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = _inner.Read(buffer);
        Observe(buffer[..n]);
        return n;
    }

    public override int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return Read(one) == 0 ? -1 : one[0];
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Observe(buffer.Span[..n]);
        return n;
    }

    private void Observe(ReadOnlySpan<byte> bytes)
    {
        while (bytes.Length > 0 && !_stopped)
        {
            if (_dataRemaining > 0)
            {
                int n = (int)Math.Min(_dataRemaining, bytes.Length);
                if (_pax is not null)
                {
                    int useful = Math.Min(n, _pax.Length - _paxFill);
                    if (useful > 0)
                    {
                        bytes[..useful].CopyTo(_pax.AsSpan(_paxFill));
                        _paxFill += useful;
                    }
                }
                _dataRemaining -= n;
                bytes = bytes[n..];
                if (_dataRemaining == 0 && _pax is not null)
                {
                    FinishPax();
                }
                continue;
            }

            int take = Math.Min(BlockSize - _headerFill, bytes.Length);
            bytes[..take].CopyTo(_header.AsSpan(_headerFill));
            _headerFill += take;
            bytes = bytes[take..];
            if (_headerFill == BlockSize)
            {
                _headerFill = 0;
                OnHeader();
            }
        }
    }

    private void OnHeader()
    {
        if (!_header.AsSpan().ContainsAnyExcept((byte)0))
        {
            _stopped = true; // end of archive: TarReader stops here too; the rest is padding
            return;
        }

        byte type = _header[156];
        if (!TryParseNumber(_header.AsSpan(124, 12), out long size))
        {
            Lose();
            return;
        }

        switch (type)
        {
            case (byte)'x':
                RefuseLargeMetadata(size, "PAX extended header");
                _pax = new byte[size];
                _paxFill = 0;
                _dataRemaining = Padded(size);
                if (size == 0)
                {
                    FinishPax();
                }
                return;
            case (byte)'L' or (byte)'K':
                RefuseLargeMetadata(size, "GNU long name");
                _dataRemaining = Padded(size);
                return;
            case (byte)'g':
                RefuseLargeMetadata(size, "PAX global header");
                _dataRemaining = Padded(size);
                break;
            case (byte)'1' or (byte)'2' or (byte)'3' or (byte)'4' or (byte)'5' or (byte)'6':
                _dataRemaining = 0; // header-only members: no data, whatever the size field says
                break;
            default:
                _dataRemaining = Padded(_pendingSize ?? size);
                break;
        }

        EntriesFramed++;
        _entryXattrs = _pendingXattrs ?? NoXattrs;
        _pendingXattrs = null;
        _pendingSize = null;
    }

    private static void RefuseLargeMetadata(long size, string what)
    {
        if (size > MaxMetadataSize)
        {
            throw new InvalidLayerException($"layer has a {what} of {size} bytes (more than {MaxMetadataSize})");
        }
    }

    /// <summary>Parses the 'x' member's records ("LEN key=value\n", LEN counting the whole record).</summary>
    private void FinishPax()
    {
        ReadOnlySpan<byte> data = _pax;
        _pax = null;
        var xattrs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        long? size = null;

        while (data.Length > 0 && data[0] != 0)
        {
            int space = data.IndexOf((byte)' ');
            if (space <= 0 || !int.TryParse(data[..space], out int length) || length <= space + 1 || length > data.Length ||
                data[length - 1] != (byte)'\n')
            {
                Lose();
                return;
            }
            ReadOnlySpan<byte> record = data[(space + 1)..(length - 1)];
            data = data[length..];

            int equals = record.IndexOf((byte)'=');
            if (equals < 0)
            {
                Lose();
                return;
            }
            string key = Encoding.UTF8.GetString(record[..equals]);
            ReadOnlySpan<byte> value = record[(equals + 1)..];
            if (key.StartsWith(PaxXattrPrefix, StringComparison.Ordinal))
            {
                xattrs[key[PaxXattrPrefix.Length..]] = value.ToArray();
            }
            else if (key == "size")
            {
                if (!long.TryParse(value, out long parsed) || parsed < 0)
                {
                    Lose();
                    return;
                }
                size = parsed;
            }
        }

        _pendingXattrs = xattrs;
        _pendingSize = size;
    }

    private void Lose()
    {
        _lost = true;
        _stopped = true;
    }

    private static long Padded(long size) => (size + BlockSize - 1) / BlockSize * BlockSize;

    /// <summary>A numeric header field: octal (space or NUL padded), or GNU base-256 when the top bit of its first byte is set.</summary>
    private static bool TryParseNumber(ReadOnlySpan<byte> field, out long value)
    {
        value = 0;
        if ((field[0] & 0x80) != 0)
        {
            if ((field[0] & 0x40) != 0)
            {
                return false; // negative
            }
            long result = field[0] & 0x3f;
            foreach (byte b in field[1..])
            {
                if (result > (long.MaxValue >> 8))
                {
                    return false;
                }
                result = (result << 8) | b;
            }
            value = result;
            return true;
        }

        field = field.Trim((ReadOnlySpan<byte>)[0, (byte)' ']);
        foreach (byte b in field)
        {
            if (b is < (byte)'0' or > (byte)'7' || value > (long.MaxValue >> 3))
            {
                return false;
            }
            value = (value << 3) | (long)(b - '0');
        }
        return true;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
