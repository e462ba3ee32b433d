using Berth.Core.Cri;
using Berth.Core.Errors;
using Berth.ImageService.Images;
using Cri = Berth.Api.Cri;

namespace Berth.ImageService.Handlers;

/// <summary>
/// The CRI ImageService: one partial file per RPC, each thin: it validates the request, calls
/// <see cref="ImageManager"/>, and maps the result. Domain errors become gRPC statuses in berthd's
/// error interceptor. <c>containerFilesystem</c> gives ImageFsInfo's container filesystem: the writable
/// layers as berthd's stats collector last sampled them (no walk per call).
/// </summary>
public sealed partial class CriImageService(ImageManager images, Func<FilesystemUsage> containerFilesystem) : Cri.ImageService.ImageServiceBase
{
    private static string RequireImageName(Cri.ImageSpec? spec)
    {
        var name = spec?.Image;
        if (string.IsNullOrWhiteSpace(name))
        {
            throw BerthException.InvalidArgument("image.image must name an image (reference, ID or ID prefix)");
        }
        return name;
    }

    private static Cri.Image ToCri(NamedImage named)
    {
        var image = new Cri.Image
        {
            Id = named.Image.Id,
            Size = (ulong)named.Image.Size,
            Spec = new Cri.ImageSpec { Image = named.Image.Id },
        };
        image.RepoTags.AddRange(named.RepoTags());
        image.RepoDigests.AddRange(named.RepoDigests());
        SetUser(image, named.Image.User);
        return image;
    }

    /// <summary>As containerd does: "uid[:gid]" gives a numeric uid, anything else a user name.</summary>
    private static void SetUser(Cri.Image image, string? user)
    {
        if (string.IsNullOrEmpty(user))
        {
            return;
        }
        var name = user.Split(':', 2)[0];
        if (long.TryParse(name, out var uid))
        {
            image.Uid = new Cri.Int64Value { Value = uid };
        }
        else
        {
            image.Username = name;
        }
    }

    /// <summary>The verbose "info" of ImageStatus: the image config and where the image came from.</summary>
    private string VerboseInfo(NamedImage named) => VerboseJson.Object(writer =>
    {
        writer.WriteString("id", named.Image.Id);
        writer.WriteString("manifestDigest", named.Image.ManifestDigest);
        writer.WriteString("manifestMediaType", named.Image.ManifestMediaType);
        writer.WriteString("source", named.Image.Source);
        writer.WriteString("pulledAt", named.Image.PulledAt);
        writer.WriteStartArray("layers");
        foreach (var layer in named.Image.Layers)
        {
            writer.WriteStartObject();
            writer.WriteString("digest", layer.Digest);
            writer.WriteString("mediaType", layer.MediaType);
            writer.WriteNumber("size", layer.Size);
            writer.WriteString("diffID", layer.DiffId);
            writer.WriteString("snapshot", images.Content.SnapshotPath(layer.DiffId));
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WritePropertyName("imageSpec");
        writer.WriteRawValue(images.Content.ReadBlob(named.Image.Id));
    });
}
