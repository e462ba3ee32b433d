using System.CommandLine;
using System.Text.Json;
using Berth.Api.Admin;

namespace Berth.Cli.Commands;

/// <summary>berthctl inspect IMAGE...: a JSON array with one object per image, as docker inspect prints.</summary>
internal static class InspectCommand
{
    public static Command Create(Option<string?> address)
    {
        var images = new Argument<string[]>("IMAGE") { Description = "images by reference, ID or unique ID prefix", Arity = ArgumentArity.OneOrMore };
        var command = new Command("inspect", "Show an image's details and config as JSON") { images };
        command.SetBody(address, async (result, admin, ct) =>
        {
            var details = new List<ImageDetail>();
            foreach (var image in result.GetValue(images)!)
            {
                details.Add(await admin.Images.InspectAsync(new InspectRequest { Image = image }, cancellationToken: ct));
            }
            Console.WriteLine(Json(details));
            return 0;
        });
        return command;
    }

    /// <summary>The images as an indented JSON array; each config is embedded as the JSON berthd stored.</summary>
    internal static string Json(IEnumerable<ImageDetail> details)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartArray();
            foreach (var detail in details)
            {
                writer.WriteStartObject();
                writer.WriteString("Id", detail.Summary.Id);
                WriteStrings(writer, "RepoTags", detail.Summary.RepoTags);
                WriteStrings(writer, "RepoDigests", detail.Summary.RepoDigests);
                writer.WriteNumber("Size", detail.Summary.Size);
                writer.WriteString("Pulled", DateTimeOffset.FromUnixTimeMilliseconds(detail.Summary.PulledAtUnixMs).ToString("O"));
                writer.WriteString("ManifestDigest", detail.ManifestDigest);
                writer.WriteString("ManifestMediaType", detail.ManifestMediaType);
                writer.WriteString("Source", detail.Source);
                writer.WriteStartArray("Layers");
                foreach (var layer in detail.Layers)
                {
                    writer.WriteStartObject();
                    writer.WriteString("Digest", layer.Digest);
                    writer.WriteString("MediaType", layer.MediaType);
                    writer.WriteNumber("Size", layer.Size);
                    writer.WriteString("DiffID", layer.DiffId);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
                writer.WritePropertyName("Config");
                using (var config = JsonDocument.Parse(detail.ConfigJson.Memory))
                {
                    config.WriteTo(writer);
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteStrings(Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }
        writer.WriteEndArray();
    }
}
