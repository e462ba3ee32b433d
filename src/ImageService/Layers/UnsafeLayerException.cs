using Berth.Core.Errors;

namespace Berth.ImageService.Layers;

/// <summary>
/// A layer entry would have been written, or linked to, outside the snapshot directory: an absolute name,
/// a ".." that climbs out, a path through a symlink that leads out, a hard link to what this layer does not hold,
/// or an xattr that steers overlayfs. The message names the entry and the reason.
/// </summary>
public sealed class UnsafeLayerException(string message, Exception? innerException = null)
    : BerthException(ErrorKind.FailedPrecondition, message, innerException);
