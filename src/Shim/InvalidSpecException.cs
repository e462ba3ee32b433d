namespace Berth.Shim;

/// <summary>
/// What config.json, shim.json or a request asks for is invalid, or cannot be done with this
/// container: a bad value, a mount destination outside the root, a program not in the image. The
/// message, ours, names the field or path and says what is wrong with it.
/// </summary>
internal sealed class InvalidSpecException : Exception
{
    public InvalidSpecException(string message)
        : base(message)
    {
    }
}
