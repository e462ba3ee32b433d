using Berth.Core.Errors;

namespace Berth.RuntimeService.Network;

/// <summary>
/// A plugin call failed: the plugin reported an error (spec section 5 "Error": <paramref name="Code"/>,
/// msg and details, which the message carries in the plugin's own words), exited without one, gave
/// output that is not a result, or did not finish in time and was killed (kind DeadlineExceeded).
/// Code 11 ("try again later") and plugin failures in general are Unavailable: the node's network may recover.
/// </summary>
public sealed class CniPluginException(ErrorKind kind, string plugin, string command, int code, string message)
    : BerthException(kind, message)
{
    /// <summary>The plugin's type (binary name).</summary>
    public string Plugin { get; } = plugin;

    /// <summary>ADD, DEL, CHECK, STATUS, GC or VERSION.</summary>
    public string Command { get; } = command;

    /// <summary>The CNI error code the plugin gave; 0 when it gave none.</summary>
    public int Code { get; } = code;
}
