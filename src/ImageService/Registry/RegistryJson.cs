using System.Text.Json.Serialization;

namespace Berth.ImageService.Registry;

// The wire shapes the client reads, deserialised by source generation so that the daemon stays
// trim- and NativeAOT-clean. They are lenient (everything optional); ManifestParser validates.

internal sealed record ManifestJson(
    int SchemaVersion,
    string? MediaType,
    DescriptorJson? Config,
    IReadOnlyList<DescriptorJson>? Layers,
    IReadOnlyList<DescriptorJson>? Manifests);

internal sealed record DescriptorJson(string? MediaType, string? Digest, long? Size, PlatformJson? Platform);

internal sealed record PlatformJson(string? Os, string? Architecture, string? Variant);

/// <summary>Answer of a token service: Docker's "token" or OAuth2's "access_token".</summary>
internal sealed record TokenResponseJson(
    [property: JsonPropertyName("token")] string? Token,
    [property: JsonPropertyName("access_token")] string? AccessToken,
    [property: JsonPropertyName("expires_in")] int? ExpiresIn);

/// <summary>The error body of the distribution spec: {"errors":[{"code":..,"message":..}]}.</summary>
internal sealed record RegistryErrorsJson(IReadOnlyList<RegistryErrorJson>? Errors);

internal sealed record RegistryErrorJson(string? Code, string? Message);

/// <summary>berthctl login's file: the config file's per-registry credentials, under "registries".</summary>
internal sealed record LoginFileJson(Dictionary<string, RegistryHostConfig>? Registries);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ManifestJson))]
[JsonSerializable(typeof(TokenResponseJson))]
[JsonSerializable(typeof(RegistryErrorsJson))]
[JsonSerializable(typeof(LoginFileJson))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext;
