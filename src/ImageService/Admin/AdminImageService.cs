using Berth.Core.Errors;
using Berth.ImageService.Images;
using Berth.ImageService.Registry;
using Google.Protobuf;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

/// <summary>
/// berth.admin.v1's Images service, the operator's image workflow (berthctl): one partial file per RPC,
/// each thin, calling <see cref="ImageManager"/> as the CRI ImageService does, so berthd stays the one owner
/// of the store. Domain errors become gRPC statuses in berthd's interceptor, as for CRI.
/// </summary>
public sealed partial class AdminImageService(ImageManager images) : AdminApi.Images.ImagesBase
{
    private static string Require(string value, string field, string what = "an image") =>
        string.IsNullOrWhiteSpace(value) ? throw BerthException.InvalidArgument($"{field} must name {what}") : value;

    private NamedImage FindOrFail(string text) =>
        images.Find(Require(text, "image")) ?? throw BerthException.NotFound($"no image {text} on this node");

    private static RegistryCredentials? Credentials(AdminApi.RegistryAuth? auth) =>
        auth is null || (auth.Username.Length == 0 && auth.Password.Length == 0)
            ? null
            : new RegistryCredentials(auth.Username, auth.Password, IdentityToken: null, RegistryToken: null);

    /// <summary>An image as the admin API lists it (also the Containers service's answer to a commit).</summary>
    public static AdminApi.ImageSummary Summary(NamedImage named)
    {
        var summary = new AdminApi.ImageSummary
        {
            Id = named.Image.Id,
            Size = named.Image.Size,
            PulledAtUnixMs = named.Image.PulledAt.ToUnixTimeMilliseconds(),
        };
        summary.RepoTags.AddRange(named.RepoTags());
        summary.RepoDigests.AddRange(named.RepoDigests());
        return summary;
    }

    private AdminApi.ImageDetail Detail(NamedImage named)
    {
        var detail = new AdminApi.ImageDetail
        {
            Summary = Summary(named),
            ManifestDigest = named.Image.ManifestDigest,
            ManifestMediaType = named.Image.ManifestMediaType,
            Source = named.Image.Source,
            ConfigJson = ByteString.CopyFrom(images.Content.ReadBlob(named.Image.Id)),
        };
        detail.Layers.AddRange(named.Image.Layers.Select(layer => new AdminApi.LayerDetail
        {
            Digest = layer.Digest,
            MediaType = layer.MediaType,
            Size = layer.Size,
            DiffId = layer.DiffId,
        }));
        return detail;
    }
}
