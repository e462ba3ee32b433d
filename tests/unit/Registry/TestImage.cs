using System.Security.Cryptography;
using System.Text;

namespace Berth.Tests.Unit.Registry;

/// <summary>A small single-layer image made up for a test: its blobs, its manifest and their digests.</summary>
internal sealed record TestImage(byte[] Config, byte[] Layer, byte[] Manifest)
{
    public const string OciManifestType = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndexType = "application/vnd.oci.image.index.v1+json";

    public string ConfigDigest => DigestOf(Config);
    public string LayerDigest => DigestOf(Layer);
    public string ManifestDigest => DigestOf(Manifest);

    public static TestImage Create(string architecture, string? variant = null)
    {
        var layer = RandomNumberGenerator.GetBytes(3000);
        var config = Encoding.UTF8.GetBytes(
            $$"""{"architecture":"{{architecture}}","os":"linux","rootfs":{"type":"layers","diff_ids":["{{DigestOf(layer)}}"]},"config":{"Cmd":["/bin/sh"]}{{(variant is null ? "" : $",\"variant\":\"{variant}\"")}}}""");
        var manifest = Encoding.UTF8.GetBytes($$"""
            {
              "schemaVersion": 2,
              "mediaType": "{{OciManifestType}}",
              "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": "{{DigestOf(config)}}", "size": {{config.Length}} },
              "layers": [ { "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "{{DigestOf(layer)}}", "size": {{layer.Length}} } ]
            }
            """);
        return new TestImage(config, layer, manifest);
    }

    /// <summary>An OCI index of the images, each with its platform ("os/architecture[/variant]").</summary>
    public static byte[] IndexOf(params (TestImage Image, string Platform)[] entries)
    {
        var manifests = entries.Select(entry =>
        {
            var parts = entry.Platform.Split('/');
            var variant = parts.Length > 2 ? $",\"variant\":\"{parts[2]}\"" : "";
            return $$"""{"mediaType":"{{OciManifestType}}","digest":"{{entry.Image.ManifestDigest}}","size":{{entry.Image.Manifest.Length}},"platform":{"os":"{{parts[0]}}","architecture":"{{parts[1]}}"{{variant}} } }""";
        });
        return Encoding.UTF8.GetBytes($$"""{"schemaVersion":2,"mediaType":"{{OciIndexType}}","manifests":[{{string.Join(",", manifests)}}]}""");
    }

    public static string DigestOf(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
}
