using System.Collections.Concurrent;
using Berth.Core.Errors;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Berth.RuntimeService.Validation;

/// <summary>
/// Checks every string of a request once, at the edge, before any handler sees it: every string field,
/// nested message, repeated element and map key and value, found through the message's protobuf
/// descriptor so a field added to the proto is covered without a line here. Each string gets the rule
/// of its field in <see cref="CriFieldRules"/>, or <see cref="CriFieldRules.General"/>. The work is
/// linear in the request and allocates nothing on success; a value over its cap is refused before it
/// is scanned.
/// </summary>
public static class RequestValidator
{
    private static readonly ConcurrentDictionary<MessageDescriptor, MessagePlan> s_plans = new();

    /// <summary>Refuses the first bad string of <paramref name="request"/>.</summary>
    /// <exception cref="BerthException">
    /// InvalidArgument naming the field by its path in the request (config.mounts[2].host_path) and what
    /// is wrong, showing at most a short escaped prefix of the value (none for a debug_redact field).
    /// </exception>
    public static void Validate(IMessage request)
    {
        var plan = s_plans.GetOrAdd(request.Descriptor, MessagePlan.Build);
        if (plan.Check(request) is { } violation)
        {
            throw violation.ToException();
        }
    }
}
