using System.IO.Pipelines;
using Berth.Core;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Berth.RuntimeService.Hosting.AuthorityRewrite;

/// <summary>
/// Kestrel connection middleware for the CRI unix socket: turns the HTTP/2 <c>:authority</c> that Go gRPC
/// clients send when they dial a unix socket by its bare path (the path, e.g. <c>/run/berth/berth.sock</c>, or
/// from grpc-go 1.57 on the path percent-encoded, <c>%2Frun%2Fberth%2Fberth.sock</c>) into one Kestrel accepts,
/// by replacing every '/' and '%' with '-'. Hook it into the plaintext HTTP/2 unix-socket listener:
/// <code>kestrel.ListenUnixSocket(path, listen => listen.Use(UnixSocketAuthorityRewriter.Middleware));</code>
/// </summary>
/// <remarks>
/// Why: Kestrel validates <c>:authority</c> as a Host header and resets the stream with PROTOCOL_ERROR when it
/// holds a '/' or a '%', and has no option to turn the check off (dotnet/aspnetcore #18522, #47043). Which
/// clients send such an authority, and when this can go: the README's Architecture section.
/// How: the connection's input is re-fed through an <see cref="Http2FrameForwarder"/>, which forwards the client
/// preface and every frame byte for byte, except inside header blocks (HEADERS and its CONTINUATIONs), where
/// <see cref="HpackAuthorityRewriter"/> rewrites literal <c>:authority</c> values in place with the same encoded
/// length. Nothing is re-encoded, so frame lengths and padding stay as sent and both ends' HPACK dynamic tables never
/// diverge. A connection that does not open with the HTTP/2 preface (HTTP/1.1 on a mixed listener) is forwarded
/// untouched.
/// </remarks>
public static class UnixSocketAuthorityRewriter
{
    // Backpressure towards the client: the loop stops reading while Kestrel has this much unread. It must stay
    // above Kestrel's largest frame (Http2Limits.MaxFrameSize, 16 KiB by default): Kestrel waits for a whole
    // frame before consuming, and we forward non-header frames as their bytes arrive.
    private const int PauseForwardingAt = 1024 * 1024;

    /// <summary>The middleware, for <c>ListenOptions.Use</c>.</summary>
    public static ConnectionDelegate Middleware(ConnectionDelegate next) =>
        connection => ServeAsync(connection, next);

    private static async Task ServeAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        IDuplexPipe transport = connection.Transport;
        var rewritten = new Pipe(new PipeOptions(
            pool: connection.Features.Get<IMemoryPoolFeature>()?.MemoryPool,
            pauseWriterThreshold: PauseForwardingAt,
            resumeWriterThreshold: PauseForwardingAt / 2,
            useSynchronizationContext: false));
        connection.Transport = new DuplexPipe(rewritten.Reader, transport.Output);
        Task forwarding = ForwardAsync(transport.Input, rewritten.Writer);
        try
        {
            await next(connection);
        }
        finally
        {
            // Kestrel is done with the connection, but the loop may still wait for client bytes that nobody
            // will read: wake it so it ends. The transport completes its own pipes when the connection is disposed.
            transport.Input.CancelPendingRead();
            await forwarding;
            connection.Transport = transport;
        }
    }

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="target"/> through the frame forwarder until the client's
    /// input ends (target is then completed with the same error, if any), Kestrel stops reading, or the read is
    /// cancelled.
    /// </summary>
    private static async Task ForwardAsync(PipeReader source, PipeWriter target)
    {
        using var framing = new Http2FrameForwarder();
        Exception? failure = null;
        try
        {
            while (true)
            {
                ReadResult read = await source.ReadAsync();
                if (read.IsCanceled)
                {
                    source.AdvanceTo(read.Buffer.Start);
                    break;
                }
                bool hadRewritten = framing.HasRewrittenAuthority;
                framing.Forward(read.Buffer, target);
                if (read.IsCompleted)
                {
                    framing.Complete(target);
                }
                if (framing.HasRewrittenAuthority && !hadRewritten)
                {
                    Telemetry.AuthorityRewrittenConnections.Add(1);
                }
                source.AdvanceTo(read.Buffer.End);
                FlushResult flush = await target.FlushAsync();
                if (read.IsCompleted || flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception error)
        {
            failure = error;
        }
        await target.CompleteAsync(failure);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
