using Berth.Core.Errors;
using Berth.ImageService.Registry;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.ImageService.Handlers;

public sealed partial class CriImageService
{
    public override async Task<Cri.PullImageResponse> PullImage(Cri.PullImageRequest request, ServerCallContext context)
    {
        var reference = ImageReference.Parse(RequireImageName(request.Image));
        if (request.Image.RuntimeHandler.Length > 0)
        {
            // As RunPodSandbox: berth has only the default handler, so an image for another one cannot run.
            throw BerthException.InvalidArgument($"image.runtime_handler '{request.Image.RuntimeHandler}' is not configured; berth has only the default handler");
        }
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
            RegistryCredentials decoded;
            try
            {
                decoded = RegistryCredentials.FromAuthField(auth.Auth);
            }
            catch (FormatException error)
            {
                throw BerthException.InvalidArgument($"auth.auth: {error.Message}");
            }
            return decoded with { IdentityToken = Empty(auth.IdentityToken), RegistryToken = Empty(auth.RegistryToken) };
        }
        var credentials = new RegistryCredentials(Empty(auth.Username), Empty(auth.Password), Empty(auth.IdentityToken), Empty(auth.RegistryToken));
        return credentials is { Username: null, Password: null, IdentityToken: null, RegistryToken: null } ? null : credentials;
    }

    private static string? Empty(string value) => string.IsNullOrEmpty(value) ? null : value;
}
