using System.Text;

namespace Berth.ImageService.Registry;

/// <summary>Credentials for one registry, as CRI's AuthConfig carries them.</summary>
/// <param name="IdentityToken">An OAuth2 refresh token, exchanged at the token service for access tokens.</param>
/// <param name="RegistryToken">A bearer token sent to the registry as it is.</param>
public sealed record RegistryCredentials(string? Username, string? Password, string? IdentityToken, string? RegistryToken)
{
    /// <summary>Decodes a docker-config "auth" field: base64 of "user:password".</summary>
    public static RegistryCredentials FromAuthField(string base64UserColonPassword)
    {
        ArgumentNullException.ThrowIfNull(base64UserColonPassword);
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(base64UserColonPassword.Trim()));
        }
        catch (FormatException e)
        {
            throw new FormatException("the auth field is not valid base64 (expected base64 of \"user:password\")", e);
        }
        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw new FormatException("the auth field does not decode to \"user:password\" (no colon after a user name)");
        }
        return new RegistryCredentials(decoded[..colon], decoded[(colon + 1)..], null, null);
    }

    internal bool HasPassword => !string.IsNullOrEmpty(Username) && Password is not null;

    /// <summary>An AuthConfig with nothing in it, as CRI sends for anonymous pulls.</summary>
    internal bool IsEmpty => string.IsNullOrEmpty(Username) && string.IsNullOrEmpty(Password)
        && string.IsNullOrEmpty(IdentityToken) && string.IsNullOrEmpty(RegistryToken);

    /// <summary>Credentials from a host's configuration, or null when it names none.</summary>
    internal static RegistryCredentials? FromHostConfig(RegistryHostConfig? config) => config switch
    {
        null => null,
        { IdentityToken: { Length: > 0 } token } => new RegistryCredentials(config.Username, null, token, null),
        { Username: { Length: > 0 } user } => new RegistryCredentials(user, config.Password ?? "", null, null),
        { Auth: { Length: > 0 } auth } => FromAuthField(auth),
        _ => null,
    };

    // Records print their properties; these are secrets and must never reach a log.
    public override string ToString() => $"RegistryCredentials {{ Username = {Username} }}";
}
