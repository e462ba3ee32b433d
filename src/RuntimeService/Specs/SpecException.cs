namespace Berth.RuntimeService.Specs;

/// <summary>
/// The CRI request cannot be turned into a runnable spec; the message says what is wrong in the
/// request's own terms. Handlers answer it with InvalidArgument.
/// </summary>
public sealed class SpecException(string message) : Exception(message);
