using Berth.Core.Errors;
using Google.Protobuf;

namespace Berth.RuntimeService.Validation;

/// <summary>
/// Checks every string of a request once, at the edge, before any handler sees it: every string field,
/// nested message, repeated element and map key and value. The walk is <see cref="CriRequestChecks"/>,
/// C# written at build time from api/cri's descriptors (by Validation/Generator), so a field added to the
/// proto is covered without a line here and berthd needs no protobuf reflection (in NativeAOT, building
/// the CRI's descriptors and field accessors costs 3 to 5 MB of anonymous memory for the life of the
/// daemon: measured on berthd idle after three crictl version and pods calls, against a build that
/// skips the check; this walk costs about 0.1 MB there). Each
/// string gets the rule of its field in <see cref="CriFieldRules"/>, or <see cref="CriFieldRules.General"/>.
/// The work is linear in the request and allocates nothing on success but an enumerator per non-empty map;
/// a value over its cap is refused before it is scanned.
/// </summary>
public static class RequestValidator
{
    /// <summary>Refuses the first bad string of <paramref name="request"/>, a request of either CRI service.</summary>
    /// <exception cref="BerthException">
    /// InvalidArgument naming the field by its path in the request (config.mounts[2].host_path) and what
    /// is wrong, showing at most a short escaped prefix of the value (none for a debug_redact field).
    /// </exception>
    /// <exception cref="InvalidOperationException"><paramref name="request"/> is no request of a CRI service.</exception>
    public static void Validate(IMessage request)
    {
        if (CriRequestChecks.Check(request) is { } violation)
        {
            throw violation.ToException();
        }
    }
}
