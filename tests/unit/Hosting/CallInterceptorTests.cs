using System.Net.Sockets;
using Berth.Core.Errors;
using Berth.RuntimeService.Hosting;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Cri = Berth.Api.Cri;

namespace Berth.Tests.Unit.Hosting;

/// <summary>The interceptor through a real in-process gRPC server on a unix socket, as berthd hosts it.</summary>
public sealed class CallInterceptorTests : IAsyncLifetime
{
    private readonly string _socket = Path.Combine(Path.GetTempPath(), $"berth-interceptor-{Guid.NewGuid():N}.sock");
    private WebApplication _app = null!;
    private GrpcChannel _channel = null!;

    /// <summary>A service whose Version fails as its request's version string says.</summary>
    private sealed class FailingService : Cri.RuntimeService.RuntimeServiceBase
    {
        public override Task<Cri.VersionResponse> Version(Cri.VersionRequest request, ServerCallContext context) => request.Version switch
        {
            "ok" => Task.FromResult(new Cri.VersionResponse { RuntimeName = "berth" }),
            "crash" => throw new InvalidOperationException("the state machine jammed"),
            _ => throw new BerthException(Enum.Parse<ErrorKind>(request.Version), $"{request.Version} happened"),
        };

        public override async Task StreamContainers(Cri.StreamContainersRequest request, IServerStreamWriter<Cri.StreamContainersResponse> responseStream, ServerCallContext context)
        {
            await responseStream.WriteAsync(new Cri.StreamContainersResponse());
            throw BerthException.NotFound("the list went away");
        }
    }

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenUnixSocket(_socket, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc(grpc => grpc.Interceptors.Add<CallInterceptor>());
        _app = builder.Build();
        _app.MapGrpcService<FailingService>();
        await _app.StartAsync();
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, cancellation) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(_socket), cancellation);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            },
        });
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        File.Delete(_socket);
    }

    private Cri.RuntimeService.RuntimeServiceClient Client => new(_channel);

    [Theory]
    [InlineData(nameof(ErrorKind.InvalidArgument), StatusCode.InvalidArgument)]
    [InlineData(nameof(ErrorKind.NotFound), StatusCode.NotFound)]
    [InlineData(nameof(ErrorKind.AlreadyExists), StatusCode.AlreadyExists)]
    [InlineData(nameof(ErrorKind.FailedPrecondition), StatusCode.FailedPrecondition)]
    [InlineData(nameof(ErrorKind.Unavailable), StatusCode.Unavailable)]
    [InlineData(nameof(ErrorKind.DeadlineExceeded), StatusCode.DeadlineExceeded)]
    [InlineData(nameof(ErrorKind.Internal), StatusCode.Internal)]
    public async Task ADomainErrorReachesTheClientAsItsStatus(string kind, StatusCode code)
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () => await Client.VersionAsync(new Cri.VersionRequest { Version = kind }));
        Assert.Equal(code, error.StatusCode);
        Assert.Equal($"{kind} happened", error.Status.Detail);
    }

    [Fact]
    public async Task ACrashIsInternalWithItsMessageAndTheServerKeepsServing()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () => await Client.VersionAsync(new Cri.VersionRequest { Version = "crash" }));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Equal("internal error: the state machine jammed", error.Status.Detail);
        Assert.Equal("berth", (await Client.VersionAsync(new Cri.VersionRequest { Version = "ok" })).RuntimeName);
    }

    [Fact]
    public async Task ACallNotServedIsUnimplementedNamingIt()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () => await Client.ListContainerStatsAsync(new Cri.ListContainerStatsRequest()));
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        Assert.Equal("berth does not implement /runtime.v1.RuntimeService/ListContainerStats yet", error.Status.Detail);
    }

    [Fact]
    public async Task AStreamingCallsErrorIsMappedToo()
    {
        using var call = Client.StreamContainers(new Cri.StreamContainersRequest());
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("the list went away", error.Status.Detail);
    }
}
