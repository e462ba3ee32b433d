using Berth.Api.Cri;
using Berth.RuntimeService.Hosting;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Tests.Unit.Validation;

/// <summary>The real interceptor refuses a bad request before the handler runs, with INVALID_ARGUMENT, for both call shapes.</summary>
public sealed class InterceptorValidationTests
{
    private readonly CallInterceptor _interceptor = new(NullLogger<CallInterceptor>.Instance);

    [Fact]
    public async Task AUnaryCallWithABadStringNeverReachesItsHandler()
    {
        bool called = false;
        var request = new ContainerStatusRequest { ContainerId = new string('f', 10 << 20) };

        var error = await Assert.ThrowsAsync<RpcException>(() => _interceptor.UnaryServerHandler(request, new FakeCallContext("/runtime.v1.RuntimeService/ContainerStatus"),
            (ContainerStatusRequest _, ServerCallContext _) =>
            {
                called = true;
                return Task.FromResult(new ContainerStatusResponse());
            }));

        Assert.False(called);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal($"container_id must be at most 128 bytes long, not {10 << 20}: \"{new string('f', 32)}\"…", error.Status.Detail);
    }

    [Fact]
    public async Task AStreamingCallWithABadStringNeverReachesItsHandler()
    {
        bool called = false;
        var request = new StreamContainersRequest { Filter = new ContainerFilter { PodSandboxId = "abc\ndef" } };

        var error = await Assert.ThrowsAsync<RpcException>(() => _interceptor.ServerStreamingServerHandler(request, new NullWriter(),
            new FakeCallContext("/runtime.v1.RuntimeService/StreamContainers"),
            (StreamContainersRequest _, IServerStreamWriter<StreamContainersResponse> _, ServerCallContext _) =>
            {
                called = true;
                return Task.CompletedTask;
            }));

        Assert.False(called);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("filter.pod_sandbox_id must be printable ASCII without spaces: \"abc\\ndef\"", error.Status.Detail);
    }

    [Fact]
    public async Task AGoodRequestReachesItsHandler()
    {
        var response = await _interceptor.UnaryServerHandler(KubeletRequests.CreateContainer(), new FakeCallContext("/runtime.v1.RuntimeService/CreateContainer"),
            (CreateContainerRequest _, ServerCallContext _) => Task.FromResult(new CreateContainerResponse { ContainerId = "made" }));

        Assert.Equal("made", response.ContainerId);
    }

    private sealed class NullWriter : IServerStreamWriter<StreamContainersResponse>
    {
        public WriteOptions? WriteOptions { get; set; }

        public Task WriteAsync(StreamContainersResponse message) => Task.CompletedTask;
    }

    private sealed class FakeCallContext(string method) : ServerCallContext
    {
        protected override string MethodCore => method;
        protected override string HostCore => "localhost";
        protected override string PeerCore => "unix:";
        protected override DateTime DeadlineCore => DateTime.MaxValue;
        protected override Metadata RequestHeadersCore { get; } = [];
        protected override CancellationToken CancellationTokenCore => CancellationToken.None;
        protected override Metadata ResponseTrailersCore { get; } = [];
        protected override Status StatusCore { get; set; }
        protected override WriteOptions? WriteOptionsCore { get; set; }
        protected override AuthContext AuthContextCore => new(null, []);

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }
}
