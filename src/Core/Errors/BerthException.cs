namespace Berth.Core.Errors;

/// <summary>
/// A failure the domain reports to its caller: a <see cref="ErrorKind"/> and a message written for the
/// person who made the request (what is wrong, with which field or object), never a .NET type name or
/// resource key. Domain code throws these (or a subclass); Hosting/ErrorTable maps them to gRPC.
/// </summary>
public class BerthException : Exception
{
    public BerthException(ErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    public ErrorKind Kind { get; }

    public static BerthException InvalidArgument(string message) => new(ErrorKind.InvalidArgument, message);

    public static BerthException NotFound(string message) => new(ErrorKind.NotFound, message);

    public static BerthException AlreadyExists(string message) => new(ErrorKind.AlreadyExists, message);

    public static BerthException FailedPrecondition(string message, Exception? innerException = null) =>
        new(ErrorKind.FailedPrecondition, message, innerException);

    public static BerthException Unavailable(string message, Exception? innerException = null) =>
        new(ErrorKind.Unavailable, message, innerException);

    public static BerthException DeadlineExceeded(string message) => new(ErrorKind.DeadlineExceeded, message);

    public static BerthException ResourceExhausted(string message) => new(ErrorKind.ResourceExhausted, message);

    public static BerthException Unimplemented(string message) => new(ErrorKind.Unimplemented, message);

    public static BerthException Internal(string message, Exception? innerException = null) =>
        new(ErrorKind.Internal, message, innerException);
}
