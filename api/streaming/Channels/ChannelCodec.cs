using System.Buffers.Text;
using Berth.Api.Streaming.RemoteCommand;

namespace Berth.Api.Streaming.Channels;

/// <summary>
/// One WebSocket message of the Kubernetes channel protocols (apimachinery wsstream conn.go): in
/// channel.k8s.io and its v4 and v5 versions a binary message whose first byte is the channel number
/// and the rest the data; in base64.channel.k8s.io and v4.base64 a text message whose first character
/// is the channel as a digit ('0' + channel) and the rest the data in standard base64. In v5 a binary
/// message <c>[255, channel]</c> is the close signal for that channel.
/// </summary>
public static class ChannelCodec
{
    /// <summary>The message carrying <paramref name="data"/> on <paramref name="channel"/>.</summary>
    public static byte[] Encode(byte channel, ReadOnlySpan<byte> data, bool base64)
    {
        if (!base64)
        {
            byte[] message = new byte[1 + data.Length];
            message[0] = channel;
            data.CopyTo(message.AsSpan(1));
            return message;
        }
        byte[] text = new byte[1 + Base64.GetMaxEncodedToUtf8Length(data.Length)];
        text[0] = (byte)('0' + channel);
        Base64.EncodeToUtf8(data, text.AsSpan(1), out _, out int written);
        return text.AsSpan(0, 1 + written).ToArray();
    }

    /// <summary>
    /// The channel and data of a received message; false for an empty message or one whose base64 does not
    /// decode (upstream skips both). A v5 close signal decodes as channel <see cref="ChannelNumbers.CloseSignal"/>
    /// with the closed channel as its one byte of data.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> message, bool base64, out byte channel, out byte[] data)
    {
        channel = 0;
        data = [];
        if (message.IsEmpty)
        {
            return false;
        }
        if (!base64)
        {
            channel = message[0];
            data = message[1..].ToArray();
            return true;
        }
        channel = (byte)(message[0] - '0');
        byte[] decoded = new byte[Base64.GetMaxDecodedFromUtf8Length(message.Length - 1)];
        if (Base64.DecodeFromUtf8(message[1..], decoded, out _, out int written) != System.Buffers.OperationStatus.Done)
        {
            return false;
        }
        data = decoded.AsSpan(0, written).ToArray();
        return true;
    }
}
