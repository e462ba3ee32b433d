using Berth.Core.Errors;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// The CRI request cannot be turned into a runnable spec; the message says what is wrong in the
/// request's own terms (an INVALID_ARGUMENT for the caller).
/// </summary>
public sealed class SpecException(string message) : BerthException(ErrorKind.InvalidArgument, message);
