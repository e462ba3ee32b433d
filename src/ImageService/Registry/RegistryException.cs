using Berth.Core.Errors;

namespace Berth.ImageService.Registry;

/// <summary>A registry operation failed; the message is meant for the user and never holds a secret.</summary>
public sealed class RegistryException(RegistryErrorKind kind, string message, Exception? innerException = null)
    : BerthException(ErrorKindOf(kind), message, innerException)
{
    public RegistryErrorKind Reason { get; } = kind;

    /// <summary>How each registry failure reads to a CRI client (kubelet retries Unavailable and DeadlineExceeded pulls).</summary>
    public static ErrorKind ErrorKindOf(RegistryErrorKind kind) => kind switch
    {
        RegistryErrorKind.NotFound or RegistryErrorKind.NoMatchingPlatform => ErrorKind.NotFound,
        RegistryErrorKind.Unauthorized => ErrorKind.PermissionDenied,
        RegistryErrorKind.Unauthenticated => ErrorKind.Unauthenticated,
        RegistryErrorKind.Rejected => ErrorKind.FailedPrecondition,
        RegistryErrorKind.Unsupported or RegistryErrorKind.InvalidManifest => ErrorKind.FailedPrecondition,
        RegistryErrorKind.DigestMismatch => ErrorKind.DataLoss,
        RegistryErrorKind.Stalled => ErrorKind.DeadlineExceeded,
        _ => ErrorKind.Unavailable,
    };
}
