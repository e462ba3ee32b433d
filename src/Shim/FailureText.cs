using System.Text.Json;
using Google.Protobuf;

namespace Berth.Shim;

/// <summary>
/// The text the shim sends back for a failure: a stage's report on its status pipe, a control
/// reply's error. The published shim is built with UseSystemResourceKeys, so the message of a BCL
/// exception is a resource key ("IO_PathNotFound_Path, /proc/self/status"), not a sentence. Only
/// the exceptions this program declares (<see cref="ErrnoException"/>, whose text is strerror's,
/// <see cref="InvalidSpecException"/>, the cgroup errors, the monitor's request errors) carry text
/// of our own; any other is described from its type and properties, never from its message.
/// </summary>
internal static class FailureText
{
    public static string Describe(Exception e) => e switch
    {
        AggregateException { InnerException: { } inner } => Describe(inner),
        _ when e.GetType().Assembly == typeof(FailureText).Assembly => e.Message,
        // Google.Protobuf's texts are its own English, not .NET resources.
        InvalidProtocolBufferException => $"malformed protobuf: {e.Message}",
        JsonException json => Describe(json),
        FileNotFoundException { FileName: { Length: > 0 } file } => $"{file}: no such file",
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        UnauthorizedAccessException => "permission denied",
        PathTooLongException => "a path is too long",
        // The BCL gives the IOException of an errno it has no type for that errno as HResult.
        IOException { HResult: > 0 and < 4096 } => ErrnoException.Describe((Interop.Errno)e.HResult),
        ArgumentException { ParamName: { Length: > 0 } name } => $"invalid {name}",
        OutOfMemoryException => "out of memory",
        _ => $"unexpected {e.GetType().Name}",
    };

    /// <summary>
    /// Where the JSON went wrong: its JSON path and position, which System.Text.Json keeps beside
    /// its message (the line counted from 0, the byte position as the count of bytes read on that
    /// line, so the last byte of the offending token counted from 1).
    /// </summary>
    public static string Describe(JsonException e)
    {
        string where = e.Path is { Length: > 0 } path ? $" at {path}" : "";
        string position = e.LineNumber is { } line ? $" (line {line + 1}, byte {e.BytePositionInLine ?? 0})" : "";
        return $"not valid JSON, or a value of the wrong type{where}{position}";
    }
}
