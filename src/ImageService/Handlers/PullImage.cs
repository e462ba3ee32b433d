using Berth.ImageService.Registry;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.ImageService.Handlers;

public sealed partial class CriImageService
{
    public override async Task<Cri.PullImageResponse> PullImage(Cri.PullImageRequest request, ServerCallContext context)
    {
        var reference = ImageReference.Parse(RequireImageName(request.Image));
        var image = await images.PullAsync(reference, Credentials(request.Auth), context.CancellationToken);
        return new Cri.PullImageResponse { ImageRef = image.Image.Id };
    }

    private static RegistryCredentials? Credentials(Cri.AuthConfig? auth)
    {
        if (auth is null)
        {
            return null;
        }
        if (!string.IsNullOrEmpty(auth.Auth))
        {
            var decoded = RegistryCredentials.FromAuthField(auth.Auth);
            return decoded with { IdentityToken = Empty(auth.IdentityToken), RegistryToken = Empty(auth.RegistryToken) };
        }
        var credentials = new RegistryCredentials(Empty(auth.Username), Empty(auth.Password), Empty(auth.IdentityToken), Empty(auth.RegistryToken));
        return credentials is { Username: null, Password: null, IdentityToken: null, RegistryToken: null } ? null : credentials;
    }

    private static string? Empty(string value) => string.IsNullOrEmpty(value) ? null : value;
}
