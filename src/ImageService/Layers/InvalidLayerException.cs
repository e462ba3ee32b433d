using Berth.Core.Errors;

namespace Berth.ImageService.Layers;

/// <summary>A layer blob that is not a well-formed (optionally gzip or zstd compressed) tar archive of a filesystem diff.</summary>
public sealed class InvalidLayerException(string message, Exception? innerException = null)
    : BerthException(ErrorKind.FailedPrecondition, message, innerException);
