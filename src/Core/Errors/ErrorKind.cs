namespace Berth.Core.Errors;

/// <summary>
/// What kind of failure the domain reports, as containerd's errdefs does: a few sentinel kinds that the
/// call interceptor turns into gRPC status codes in exactly one table (Hosting/ErrorTable), so domain
/// code never names a status code.
/// </summary>
public enum ErrorKind
{
    /// <summary>The request itself is malformed; retrying it unchanged cannot succeed.</summary>
    InvalidArgument,

    /// <summary>Something the request names does not exist.</summary>
    NotFound,

    /// <summary>The request would create something that exists (a reserved name).</summary>
    AlreadyExists,

    /// <summary>The request is well formed but does not fit the current state (start twice, exec in an exited container).</summary>
    FailedPrecondition,

    /// <summary>A dependency (a registry, a shim) could not be reached; a retry may succeed.</summary>
    Unavailable,

    /// <summary>An operation did not finish in its time (an ExecSync timeout, a stalled download).</summary>
    DeadlineExceeded,

    /// <summary>A registry refused the credentials.</summary>
    PermissionDenied,

    /// <summary>A registry refused who the caller is for a push or a login: no credentials, or wrong ones.</summary>
    Unauthenticated,

    /// <summary>Content did not match its digest.</summary>
    DataLoss,

    /// <summary>A bound on concurrent work was reached.</summary>
    ResourceExhausted,

    /// <summary>A fault of berth's own or of the node; the message says what was being done.</summary>
    Internal,

    /// <summary>A feature the node or berth cannot offer; the message names what is missing.</summary>
    Unimplemented,
}
