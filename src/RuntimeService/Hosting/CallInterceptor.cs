using Berth.Core;
using System.Diagnostics;
using Berth.RuntimeService.Validation;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Berth.RuntimeService.Hosting;

/// <summary>
/// Wraps every call of both sockets' services: a trace span, a latency measurement, for CRI the check of every
/// string of the request (<see cref="RequestValidator"/>, before any handler runs; the admin API's few strings
/// are references and names its handlers parse), and the one place where domain exceptions become gRPC
/// statuses, through <see cref="ErrorTable"/> (handlers stay free of try/catch).
/// </summary>
public sealed class CallInterceptor(ILogger<CallInterceptor> logger) : Interceptor
{
    private const string CriMethodPrefix = "/runtime.v1.";

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        using var activity = Telemetry.Source.StartActivity(context.Method, ActivityKind.Server);
        var started = Stopwatch.GetTimestamp();
        var code = StatusCode.OK;
        try
        {
            Validate(request, context);
            return await continuation(request, context);
        }
        catch (Exception error)
        {
            var mapped = Map(error, context);
            code = mapped.StatusCode;
            activity?.SetStatus(ActivityStatusCode.Error, mapped.Status.Detail);
            Log(context.Method, mapped, error);
            throw mapped;
        }
        finally
        {
            Telemetry.RpcDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds,
                new KeyValuePair<string, object?>("rpc.method", context.Method),
                new KeyValuePair<string, object?>("rpc.grpc.status_code", (int)code));
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var activity = Telemetry.Source.StartActivity(context.Method, ActivityKind.Server);
        try
        {
            Validate(request, context);
            await continuation(request, responseStream, context);
        }
        catch (Exception error)
        {
            var mapped = Map(error, context);
            activity?.SetStatus(ActivityStatusCode.Error, mapped.Status.Detail);
            Log(context.Method, mapped, error);
            throw mapped;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var activity = Telemetry.Source.StartActivity(context.Method, ActivityKind.Server);
        try
        {
            return await continuation(requestStream, context);
        }
        catch (Exception error)
        {
            var mapped = Map(error, context);
            activity?.SetStatus(ActivityStatusCode.Error, mapped.Status.Detail);
            Log(context.Method, mapped, error);
            throw mapped;
        }
    }

    /// <summary>
    /// The status for <paramref name="error"/>; CANCELLED when the client went away meanwhile, whatever broke because
    /// it did (its request stream aborted mid-read is an IOException, not an internal error of ours).
    /// </summary>
    private static RpcException Map(Exception error, ServerCallContext context) =>
        context.CancellationToken.IsCancellationRequested && error is not RpcException
            ? ErrorTable.ToRpcException(new OperationCanceledException("the client went away", error, context.CancellationToken), context.Method)
            : ErrorTable.ToRpcException(error, context.Method);

    private static void Validate<TRequest>(TRequest request, ServerCallContext context)
    {
        if (request is IMessage message && context.Method.StartsWith(CriMethodPrefix, StringComparison.Ordinal))
        {
            RequestValidator.Validate(message);
        }
    }

    private void Log(string method, RpcException mapped, Exception original)
    {
        if (mapped.StatusCode is StatusCode.Internal or StatusCode.Unknown)
        {
            logger.LogError(original, "{Method} failed: {Detail}", method, mapped.Status.Detail);
        }
        else if (mapped.StatusCode is not StatusCode.Unimplemented and not StatusCode.Cancelled)
        {
            logger.LogInformation("{Method} answered {Code}: {Detail}", method, mapped.StatusCode, mapped.Status.Detail);
        }
    }
}
