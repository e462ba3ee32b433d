using Berth.Core.Errors;

namespace Berth.ImageService.Registry;

/// <summary>An image reference that does not follow the distribution reference grammar; the message says what is wrong.</summary>
public sealed class ImageReferenceException(string message) : BerthException(ErrorKind.InvalidArgument, message);
