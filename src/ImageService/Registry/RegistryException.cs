namespace Berth.ImageService.Registry;

/// <summary>A registry operation failed; the message is meant for the user and never holds a secret.</summary>
public sealed class RegistryException(RegistryErrorKind kind, string message, Exception? innerException = null)
    : Exception(message, innerException)
{
    public RegistryErrorKind Kind { get; } = kind;
}
