using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization;

namespace Berth.ImageService.Registry;

/// <summary>
/// Settings for one registry host (config.json "registries", keyed by host[:port] as in
/// <see cref="ImageReference.Domain"/>, or by a mirror's host[:port]).
/// </summary>
public sealed record RegistryHostConfig
{
    /// <summary>Base URLs such as "http://127.0.0.1:5000", tried in order before the host itself.</summary>
    [JsonPropertyName("mirrors")]
    public IReadOnlyList<string> Mirrors { get; set; } = [];

    /// <summary>Allow plain HTTP and TLS certificates that do not verify.</summary>
    [JsonPropertyName("insecure")]
    public bool Insecure { get; set; }

    /// <summary>PEM file of a CA trusted for this host in addition to the system's.</summary>
    [JsonPropertyName("ca")]
    public string? Ca { get; set; }

    [JsonPropertyName("username")]
    public string? Username { get; set; }

    [JsonPropertyName("password")]
    public string? Password { get; set; }

    /// <summary>base64 of "user:password", as in a docker config.json.</summary>
    [JsonPropertyName("auth")]
    public string? Auth { get; set; }

    [JsonPropertyName("identityToken")]
    public string? IdentityToken { get; set; }

    /// <summary>
    /// The certificates of a <see cref="Ca"/> file: one or more PEM <c>CERTIFICATE</c> blocks. Throws
    /// <see cref="FormatException"/> saying, in the operator's terms, why the file cannot serve: missing,
    /// unreadable, or not PEM certificates. The configuration's check and the TLS handler use this one reading.
    /// </summary>
    public static X509Certificate2Collection ReadCa(string caFile)
    {
        if (!File.Exists(caFile))
        {
            throw new FormatException(Directory.Exists(caFile) ? $"'{caFile}' is a directory, not a PEM file" : $"no such file '{caFile}'");
        }
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(caFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"'{caFile}' cannot be read: {e.Message}", e);
        }
        catch (CryptographicException e)
        {
            throw new FormatException($"'{caFile}' holds a PEM block that is not a certificate: {e.Message}", e);
        }
        return roots.Count > 0 ? roots : throw new FormatException($"'{caFile}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }

    /// <summary>Why <paramref name="caFile"/> cannot be a <see cref="Ca"/>, or null when it can (see <see cref="ReadCa"/>).</summary>
    public static string? CaProblem(string caFile)
    {
        try
        {
            foreach (var certificate in ReadCa(caFile))
            {
                certificate.Dispose();
            }
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    /// <summary>Why <paramref name="auth"/> cannot be an <see cref="Auth"/> (base64 of "user:password"), or null when it can.</summary>
    public static string? AuthProblem(string auth)
    {
        try
        {
            RegistryCredentials.FromAuthField(auth);
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// Why a mirror URL cannot be used, or null when it can: it must be an absolute http:// or https:// URL
    /// with neither query nor fragment (the API's paths are appended to it). The configuration's check and
    /// the endpoints use this one rule.
    /// </summary>
    public static string? MirrorProblem(string mirror) =>
        !Uri.TryCreate(mirror, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") ? "must be an http:// or https:// URL"
        : !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) ? "must be a URL without a query or fragment"
        : null;
}
