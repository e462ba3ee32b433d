using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Berth.RuntimeService.Hosting;

/// <summary>
/// Keeps the two sockets' services apart: the admin API (berth.admin.v1) answers only on the admin socket,
/// which is root's alone, and CRI only on the CRI socket, whose group kubelet may be given. Kestrel serves
/// every mapped service on every endpoint, so the admin socket's connections are marked as they are accepted
/// and each request is checked against its connection's mark before routing.
/// </summary>
public static class AdminSocket
{
    private const string AdminServicePrefix = "/berth.admin.v1.";
    private static readonly object Mark = new();

    /// <summary>Kestrel connection middleware for the admin socket's endpoint.</summary>
    public static ConnectionDelegate MarkConnection(ConnectionDelegate next) => connection =>
    {
        connection.Items[Mark] = Mark;
        return next(connection);
    };

    /// <summary>
    /// Request middleware: a call on the wrong socket is answered as if the service did not exist there
    /// (gRPC UNIMPLEMENTED, with a message saying which socket serves it).
    /// </summary>
    public static Task KeepServicesApart(HttpContext context, RequestDelegate next)
    {
        var onAdminSocket = context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(Mark) == true;
        var forAdmin = context.Request.Path.Value?.StartsWith(AdminServicePrefix, StringComparison.Ordinal) == true;
        if (onAdminSocket == forAdmin)
        {
            return next(context);
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.AppendTrailer("grpc-status", "12");
        context.Response.AppendTrailer("grpc-message", onAdminSocket
            ? "the admin socket serves berth.admin.v1 only; CRI is on berthd's CRI socket"
            : "berth.admin.v1 is served on berthd's admin socket only");
        return Task.CompletedTask;
    }
}
