using Berth.Core.Errors;
using Grpc.Core;

namespace Berth.RuntimeService.Hosting;

/// <summary>
/// The one place where a failure becomes a gRPC status (containerd's errgrpc.ToGRPC): each domain
/// <see cref="ErrorKind"/> has one status code, and anything that is not a domain error is INTERNAL with
/// its message alone. Details are capped, so no request can make berthd echo unbounded input back.
/// </summary>
public static class ErrorTable
{
    /// <summary>The longest status detail sent, in characters.</summary>
    public const int MaxDetailLength = 4096;

    /// <summary>The status code of each kind; a unit test holds one row per kind.</summary>
    public static StatusCode CodeOf(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        ErrorKind.NotFound => StatusCode.NotFound,
        ErrorKind.AlreadyExists => StatusCode.AlreadyExists,
        ErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
        ErrorKind.Unavailable => StatusCode.Unavailable,
        ErrorKind.DeadlineExceeded => StatusCode.DeadlineExceeded,
        ErrorKind.PermissionDenied => StatusCode.PermissionDenied,
        ErrorKind.Unauthenticated => StatusCode.Unauthenticated,
        ErrorKind.DataLoss => StatusCode.DataLoss,
        ErrorKind.ResourceExhausted => StatusCode.ResourceExhausted,
        ErrorKind.Unimplemented => StatusCode.Unimplemented,
        _ => StatusCode.Internal,
    };

    /// <summary>What a call that threw <paramref name="error"/> answers; <paramref name="method"/> is the gRPC method's full name.</summary>
    public static RpcException ToRpcException(Exception error, string method) => error switch
    {
        BerthException domain => Status(CodeOf(domain.Kind), domain.Message),
        // The generated service base answers UNIMPLEMENTED for calls berth does not serve.
        RpcException { StatusCode: StatusCode.Unimplemented } => Status(StatusCode.Unimplemented, $"berth does not implement {method} yet"),
        RpcException rpc => Status(rpc.StatusCode, rpc.Status.Detail),
        OperationCanceledException => Status(StatusCode.Cancelled, "the call was cancelled"),
        _ => Status(StatusCode.Internal, $"internal error: {error.Message}"),
    };

    private static RpcException Status(StatusCode code, string detail) =>
        new(new Status(code, detail.Length <= MaxDetailLength ? detail : detail[..MaxDetailLength] + "…"));
}
