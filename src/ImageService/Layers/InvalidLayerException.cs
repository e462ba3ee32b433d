namespace Berth.ImageService.Layers;

/// <summary>A layer blob that is not a well-formed (optionally gzip or zstd compressed) tar archive of a filesystem diff.</summary>
public sealed class InvalidLayerException : Exception
{
    public InvalidLayerException(string message)
        : base(message)
    {
    }

    public InvalidLayerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
