namespace Berth.ImageService.Registry;

/// <summary>Why a registry operation failed; the image service maps each kind to a gRPC status.</summary>
public enum RegistryErrorKind
{
    NotFound,
    Unauthorized,
    Unsupported,
    InvalidManifest,
    DigestMismatch,
    NoMatchingPlatform,
    Unavailable,
    Stalled,
}
