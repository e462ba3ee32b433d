using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Core.Errors;
using Berth.RuntimeService.Configuration;
using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Hosting;
using Berth.RuntimeService.Pods;
using Google.Protobuf;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Streaming;

/// <summary>
/// berthd's streaming server (kubelet's pkg/kubelet/cri/streaming server, as containerd and CRI-O embed
/// it): Exec, Attach and PortForward store their request under a single-use token and return a URL on
/// this server, <c>http://127.0.0.1:PORT/exec/TOKEN</c> (attach, portforward alike), which kubelet or
/// crictl then open with a SPDY/3.1 upgrade or a WebSocket. It is a Kestrel listener of its own (HTTP/1.1,
/// optionally TLS), apart from the CRI socket: no CRI call can reach it, and a URL is all it serves.
/// </summary>
public sealed class StreamingServer(
    BerthConfig config, StreamingTokens tokens, RuntimeRegistry registry, RemoteCommandSessions remoteCommands,
    PortForwardSessions portForwards, ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<StreamingServer>();
    private WebApplication? _app;
    private Uri? _baseUrl;

    /// <summary>Where the server listens, once started: http(s)://ADDRESS:PORT/.</summary>
    public Uri BaseUrl => _baseUrl ?? throw BerthException.Unavailable("the streaming server is not started");

    private TimeSpan IdleTimeout => TimeSpan.FromSeconds(config.Streaming.IdleTimeoutSeconds);

    /// <summary>The URL of an exec session; validates the request as kubelet's streaming server does (InvalidArgument), and the container (NotFound, FailedPrecondition).</summary>
    public string ExecUrl(Cri.ExecRequest request)
    {
        if (request.Cmd.Count == 0)
        {
            throw BerthException.InvalidArgument("cmd must name a command");
        }
        RequireStreams(request.Stdin, request.Stdout, request.Stderr, request.Tty, "stdin, stdout, or stderr");
        registry.RequireContainer(request.ContainerId).RequireRunning(ContainerManager.ExecVerb);
        return UrlFor("exec", request);
    }

    /// <summary>The URL of an attach session (checks as <see cref="ExecUrl"/>).</summary>
    public string AttachUrl(Cri.AttachRequest request)
    {
        RequireStreams(request.Stdin, request.Stdout, request.Stderr, request.Tty, "stdin, stdout, and stderr");
        registry.RequireContainer(request.ContainerId).RequireRunning(ContainerManager.AttachVerb);
        return UrlFor("attach", request);
    }

    /// <summary>The URL of a port-forward session; NotFound without the sandbox, FailedPrecondition when it is not ready, InvalidArgument for a port outside 1..65535.</summary>
    public string PortForwardUrl(Cri.PortForwardRequest request)
    {
        Sandbox sandbox = registry.RequireSandbox(request.PodSandboxId);
        if (!sandbox.Ready)
        {
            throw BerthException.FailedPrecondition($"pod sandbox {sandbox.Id} is not ready: {sandbox.NotReadyReason}");
        }
        foreach (int port in request.Port)
        {
            if (port is < 1 or > 65535)
            {
                throw BerthException.InvalidArgument($"port {port} is outside 1..65535");
            }
        }
        return UrlFor("portforward", request);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        StreamingConfig streaming = config.Streaming;
        var builder = KestrelHosts.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        // Sessions still open at shutdown are cut after this (their processes are killed by their shims).
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(new IPEndPoint(streaming.AddressValue, streaming.Port), listen =>
            {
                // SPDY and WebSocket upgrades are HTTP/1.1.
                listen.Protocols = HttpProtocols.Http1;
                if (streaming.UsesTls)
                {
                    listen.UseHttps(X509Certificate2.CreateFromPemFile(streaming.TlsCertFile!, streaming.TlsKeyFile));
                }
            });
        });
        _app = builder.Build();
        _app.UseWebSockets();
        _app.Run(ServeAsync);
        await _app.StartAsync(cancellationToken);
        string bound = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        // Kestrel reports the bound address with the port it picked; the URLs name the configured address.
        int port = new Uri(bound).Port;
        var host = streaming.AddressValue.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{streaming.Address}]" : streaming.Address;
        _baseUrl = new Uri($"{(streaming.UsesTls ? "https" : "http")}://{host}:{port.ToString(CultureInfo.InvariantCulture)}/");
        _logger.LogInformation("berthd streaming server on {Url}", _baseUrl);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    private string UrlFor(string kind, IMessage request) => new Uri(BaseUrl, $"{kind}/{tokens.Add(request)}").ToString();

    /// <summary>kubelet's validateExecRequest and validateAttachRequest.</summary>
    private static void RequireStreams(bool stdin, bool stdout, bool stderr, bool tty, string names)
    {
        if (tty && stderr)
        {
            throw BerthException.InvalidArgument("tty and stderr cannot both be true");
        }
        if (!stdin && !stdout && !stderr)
        {
            throw BerthException.InvalidArgument($"one of {names} must be set");
        }
    }

    /// <summary>GET or POST /exec/TOKEN, /attach/TOKEN, /portforward/TOKEN; anything else, or a token not in flight, is 404.</summary>
    private async Task ServeAsync(HttpContext context)
    {
        string[] parts = (context.Request.Path.Value ?? "").Trim('/').Split('/');
        if (parts.Length != 2 || parts[0] is not ("exec" or "attach" or "portforward"))
        {
            await NotFoundAsync(context);
            return;
        }
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsPost(context.Request.Method))
        {
            await StreamingUpgrade.RefuseAsync(context, StatusCodes.Status405MethodNotAllowed, "405: Method Not Allowed");
            return;
        }
        IMessage? request = tokens.Take(parts[1]);
        try
        {
            switch (parts[0], request)
            {
                case ("exec", Cri.ExecRequest exec):
                    await ServeExecAsync(context, exec);
                    break;
                case ("attach", Cri.AttachRequest attach):
                    await ServeAttachAsync(context, attach);
                    break;
                case ("portforward", Cri.PortForwardRequest forward):
                    await ServePortForwardAsync(context, forward);
                    break;
                default:
                    await NotFoundAsync(context);
                    break;
            }
        }
        catch (BerthException error) when (!context.Response.HasStarted)
        {
            // The container or sandbox went away between the RPC and the connection.
            await StreamingUpgrade.RefuseAsync(context, error.Kind == ErrorKind.NotFound ? StatusCodes.Status404NotFound : StatusCodes.Status400BadRequest, error.Message);
        }
    }

    private async Task ServeExecAsync(HttpContext context, Cri.ExecRequest request)
    {
        Container container = registry.RequireContainer(request.ContainerId);
        var options = new RemoteCommandOptions(request.Stdin, request.Stdout, request.Stderr, request.Tty);
        await remoteCommands.ExecAsync(container, request.Cmd, options, accepted => OpenRemoteCommandAsync(context, options, accepted));
    }

    private async Task ServeAttachAsync(HttpContext context, Cri.AttachRequest request)
    {
        Container container = registry.RequireContainer(request.ContainerId);
        var options = new RemoteCommandOptions(request.Stdin, request.Stdout, request.Stderr, request.Tty);
        if (await OpenRemoteCommandAsync(context, options) is { } channels)
        {
            await remoteCommands.AttachAsync(container, options, channels);
        }
    }

    /// <summary>
    /// The session's streams over WebSocket or SPDY; null when the upgrade was refused or the client never opened them.
    /// <paramref name="accepted"/> runs once the upgrade is agreed, before its answer.
    /// </summary>
    private async Task<RemoteCommandChannels?> OpenRemoteCommandAsync(HttpContext context, RemoteCommandOptions options, Action? accepted = null)
    {
        if (context.WebSockets.IsWebSocketRequest)
        {
            return await StreamingUpgrade.AcceptWebSocketAsync(context, StreamProtocols.RemoteCommandWebSocket, accepted) is var (socket, protocol)
                ? await StreamingUpgrade.OpenChannelsAsync(socket, protocol, options, IdleTimeout)
                : null;
        }
        return await StreamingUpgrade.UpgradeSpdyAsync(context, StreamProtocols.RemoteCommandSpdy, IdleTimeout, accepted) is var (spdy, spdyProtocol)
            ? await StreamingUpgrade.EstablishAsync(spdy, spdyProtocol, options, _logger)
            : null;
    }

    private async Task ServePortForwardAsync(HttpContext context, Cri.PortForwardRequest request)
    {
        Sandbox sandbox = registry.RequireSandbox(request.PodSandboxId);
        if (context.WebSockets.IsWebSocketRequest)
        {
            // The ports are the CRI request's (kubelet's BuildV4Options), else the URL's ?port= (NewV4Options).
            IReadOnlyList<int> ports = request.Port.Count > 0 ? request.Port : PortsFromQuery(context);
            if (ports.Count == 0)
            {
                await StreamingUpgrade.RefuseAsync(context, StatusCodes.Status400BadRequest, "query parameter \"port\" is required");
                return;
            }
            if (await StreamingUpgrade.AcceptWebSocketAsync(context, StreamProtocols.PortForwardWebSocket) is var (socket, protocol))
            {
                await portForwards.ServeWebSocketAsync(sandbox, socket, protocol, ports, IdleTimeout);
            }
            return;
        }
        if (await StreamingUpgrade.UpgradeSpdyAsync(context, [StreamProtocols.PortForward], IdleTimeout) is var (spdy, _))
        {
            await portForwards.ServeSpdyAsync(sandbox, spdy);
        }
    }

    private static List<int> PortsFromQuery(HttpContext context) =>
        context.Request.Query["port"].SelectMany(value => (value ?? "").Split(','))
            .Select(value => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is >= 1 and <= 65535 ? port : 0)
            .Where(port => port > 0).ToList();

    /// <summary>Go's http.NotFound.</summary>
    private static Task NotFoundAsync(HttpContext context) =>
        StreamingUpgrade.RefuseAsync(context, StatusCodes.Status404NotFound, "404 page not found");
}
