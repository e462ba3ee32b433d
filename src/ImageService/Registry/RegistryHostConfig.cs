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
    /// Why a mirror URL cannot be used, or null when it can: it must be an absolute http:// or https:// URL
    /// with neither query nor fragment (the API's paths are appended to it). The configuration's check and
    /// the endpoints use this one rule.
    /// </summary>
    public static string? MirrorProblem(string mirror) =>
        !Uri.TryCreate(mirror, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") ? "must be an http:// or https:// URL"
        : !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) ? "must be a URL without a query or fragment"
        : null;
}
