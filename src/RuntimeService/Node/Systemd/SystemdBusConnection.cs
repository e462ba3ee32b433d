using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Tmds.DBus.Protocol;

namespace Berth.RuntimeService.Node.Systemd;

/// <summary>
/// How berthd opens its D-Bus connection to systemd: the socket of a <c>unix:path=</c> or <c>unix:abstract=</c>
/// address, handed to Tmds.DBus.Protocol as a stream that works around a systemd 252 sd-bus server fault seen
/// on its private socket: a message that reaches systemd in the same read as the client's BEGIN line stays in
/// its buffer unprocessed until more bytes arrive, so the Hello the client sends right after BEGIN is answered
/// only by chance (reproduced with a plain socket client sending "BEGIN\r\n" and Hello in one write).
/// </summary>
internal sealed class SystemdBusOptions : DBusConnectionOptions
{
    private readonly string _address;

    public SystemdBusOptions(string address)
        : base(address) => _address = address;

    protected override async ValueTask<SetupResult> SetupAsync(CancellationToken cancellationToken)
    {
        var endPoint = EndPoint(_address);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new SetupResult(_address) { ConnectionStream = new NudgingStream(new NetworkStream(socket, ownsSocket: true)), UserId = EffectiveUid() };
    }

    /// <summary>The socket of a unix: D-Bus address; ArgumentException for any other form.</summary>
    public static UnixDomainSocketEndPoint EndPoint(string address) =>
        address.StartsWith("unix:path=", StringComparison.Ordinal) ? new UnixDomainSocketEndPoint(address["unix:path=".Length..].Split(',')[0])
        : address.StartsWith("unix:abstract=", StringComparison.Ordinal) ? new UnixDomainSocketEndPoint("\0" + address["unix:abstract=".Length..].Split(',')[0])
        : throw new ArgumentException($"D-Bus address {address} is not unix:path=... or unix:abstract=...");

    /// <summary>The effective uid the EXTERNAL mechanism names (/proc/self/status, third field of Uid:).</summary>
    private static string EffectiveUid() =>
        File.ReadLines("/proc/self/status").First(line => line.StartsWith("Uid:", StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries)[2];
}

/// <summary>
/// The connection's stream: once the client has sent BEGIN and its first message, and until the first byte of
/// an answer arrives, it sends a no-reply Peer.Ping every 100 ms (at most 50), whose arrival makes systemd read
/// again and process what it holds. Writes are serialised so a nudge never lands inside a message.
/// </summary>
internal sealed class NudgingStream(Stream inner) : Stream
{
    private const int MaxNudges = 50;
    private static readonly TimeSpan NudgeInterval = TimeSpan.FromMilliseconds(100);
    private static readonly byte[] Begin = "BEGIN\r\n"u8.ToArray();
    private static readonly byte[] Ping = PingMessage();

    private readonly SemaphoreSlim _write = new(1, 1);
    private volatile bool _begun;
    private volatile bool _answered;
    private int _nudging;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await inner.ReadAsync(buffer, cancellationToken);
        if (_begun && read > 0)
        {
            _answered = true;
        }
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _write.WaitAsync(cancellationToken);
        try
        {
            await inner.WriteAsync(buffer, cancellationToken);
            await inner.FlushAsync(cancellationToken);
        }
        finally
        {
            _write.Release();
        }
        int begin = buffer.Span.IndexOf(Begin);
        if (!_begun && begin >= 0)
        {
            _begun = true;
            if (begin + Begin.Length == buffer.Length)
            {
                return;
            }
        }
        if (_begun && !_answered && Interlocked.Exchange(ref _nudging, 1) == 0)
        {
            _ = NudgeAsync();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _answered = true;
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    private async Task NudgeAsync()
    {
        try
        {
            for (int nudge = 0; nudge < MaxNudges && !_answered; nudge++)
            {
                await Task.Delay(NudgeInterval);
                if (_answered)
                {
                    return;
                }
                await _write.WaitAsync();
                try
                {
                    await inner.WriteAsync(Ping);
                    await inner.FlushAsync();
                }
                finally
                {
                    _write.Release();
                }
            }
        }
        catch (Exception error) when (error is IOException or ObjectDisposedException)
        {
            // The connection is gone: its reader reports that to the caller.
        }
    }

    /// <summary>
    /// org.freedesktop.DBus.Peer.Ping on "/", flagged NO_REPLY_EXPECTED, serial 0xFFFFFF00 (far from the client's
    /// own, which count up from 1): a little-endian D-Bus message with an empty body.
    /// </summary>
    private static byte[] PingMessage()
    {
        var fields = new List<byte>();
        void Field(byte code, char signature, string value)
        {
            while (fields.Count % 8 != 0)
            {
                fields.Add(0);
            }
            fields.AddRange([code, 1, (byte)signature, 0]);
            byte[] text = Encoding.UTF8.GetBytes(value);
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)text.Length);
            fields.AddRange(length.ToArray());
            fields.AddRange(text);
            fields.Add(0);
        }
        Field(1, 'o', "/");
        Field(2, 's', "org.freedesktop.DBus.Peer");
        Field(3, 's', "Ping");
        var message = new List<byte> { (byte)'l', 1, 1, 1 };
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(word, 0);
        message.AddRange(word.ToArray());
        BinaryPrimitives.WriteUInt32LittleEndian(word, 0xFFFFFF00);
        message.AddRange(word.ToArray());
        BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)fields.Count);
        message.AddRange(word.ToArray());
        message.AddRange(fields);
        while (message.Count % 8 != 0)
        {
            message.Add(0);
        }
        return message.ToArray();
    }
}
