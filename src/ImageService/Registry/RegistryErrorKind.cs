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
    /// <summary>The registry refused who the client is (no credentials, or rejected ones) for a push or a login.</summary>
    Unauthenticated,
    /// <summary>The registry refused to take what was pushed (a manifest or blob it found invalid).</summary>
    Rejected,
}
