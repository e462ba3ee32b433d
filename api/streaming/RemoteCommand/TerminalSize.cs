using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Berth.Api.Streaming.RemoteCommand;

/// <summary>
/// A terminal size as the resize stream carries it: one JSON object per change,
/// <c>{"Width":80,"Height":24}</c>, written back to back by Go's json.Encoder (client-go's
/// remotecommand.TerminalSize, whose fields have no JSON tags).
/// </summary>
public readonly record struct TerminalSize(ushort Width, ushort Height)
{
    /// <summary>The largest object accepted on a resize stream (bytes); anything longer ends the stream.</summary>
    public const int MaxObjectLength = 4096;

    public byte[] ToJson() => Encoding.ASCII.GetBytes($"{{\"Width\":{Width},\"Height\":{Height}}}\n");

    /// <summary>
    /// The sizes read from a resize stream until it ends or carries something that is not such an object
    /// (kubelet's handleResizeEvents stops at the first decoding error too).
    /// </summary>
    public static async IAsyncEnumerable<TerminalSize> ReadAllAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        byte[] buffer = new byte[MaxObjectLength];
        int length = 0;
        while (true)
        {
            while (TryTakeObject(buffer, ref length, out TerminalSize? size, out bool malformed))
            {
                if (malformed)
                {
                    yield break;
                }
                if (size is { } value)
                {
                    yield return value;
                }
            }
            if (length == buffer.Length)
            {
                yield break;
            }
            int n;
            try
            {
                n = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            }
            catch (IOException)
            {
                yield break;
            }
            if (n == 0)
            {
                yield break;
            }
            length += n;
        }
    }

    /// <summary>
    /// Takes the first complete JSON value from the buffer: true with the size (or null for another kind of
    /// value, with <paramref name="malformed"/> set when the bytes are not JSON); false when more bytes are needed.
    /// </summary>
    public static bool TryTakeObject(byte[] buffer, ref int length, out TerminalSize? size, out bool malformed)
    {
        size = null;
        malformed = false;
        var reader = new Utf8JsonReader(buffer.AsSpan(0, length), isFinalBlock: false, state: default);
        try
        {
            if (!reader.Read() || !reader.TrySkip())
            {
                return false;
            }
        }
        catch (JsonException)
        {
            malformed = true;
            length = 0;
            return true;
        }
        int consumed = (int)reader.BytesConsumed;
        size = Parse(buffer.AsSpan(0, consumed));
        buffer.AsSpan(consumed, length - consumed).CopyTo(buffer);
        length -= consumed;
        return true;
    }

    private static TerminalSize? Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return null;
        }
        ushort width = 0;
        ushort height = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            // encoding/json matches field names case-insensitively.
            string name = reader.GetString() ?? "";
            reader.Read();
            if (reader.TokenType == JsonTokenType.Number && reader.TryGetUInt16(out ushort value))
            {
                if (name.Equals("Width", StringComparison.OrdinalIgnoreCase))
                {
                    width = value;
                }
                else if (name.Equals("Height", StringComparison.OrdinalIgnoreCase))
                {
                    height = value;
                }
            }
            else
            {
                reader.Skip();
            }
        }
        return new TerminalSize(width, height);
    }
}
