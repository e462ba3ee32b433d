using Berth.Core.Cri;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Berth.Core.Cri;

/// <summary>The JSON object of a verbose CRI status's "info" entry.</summary>
public static class VerboseJson
{
    // Relaxed escaping: this JSON is read by people (crictl inspect), not embedded in HTML.
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Object(Action<Utf8JsonWriter> writeProperties)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            writer.WriteStartObject();
            writeProperties(writer);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
