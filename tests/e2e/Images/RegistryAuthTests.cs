using Berth.Api.Cri;
using ImageSpec = Berth.Tests.E2e.Fixtures.ImageSpec;
using CriImageSpec = Berth.Api.Cri.ImageSpec;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Images;

/// <summary>A registry behind TLS (a CA made for the test) and htpasswd basic auth.</summary>
public sealed class RegistryAuthTests : IAsyncLifetime
{
    private RegistryServer _registry = null!;
    private PushedImage _image = null!;

    public async Task InitializeAsync()
    {
        _registry = await RegistryServer.StartAsync(new RegistryOptions { Tls = true, Credentials = new("puller", "s3cret-Pass") });
        using var builder = new ImageBuilder(_registry);
        _image = await builder.PushAsync(UniqueRepository("private"), "v1", BusyboxImage());
    }

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    private Task<BerthDaemon> StartBerthAsync(object? credentials = null) => BerthDaemon.StartAsync(new
    {
        registries = new Dictionary<string, object>
        {
            [_registry.Host] = credentials is null
                ? new { ca = _registry.CaCertificatePath }
                : new { ca = _registry.CaCertificatePath, username = "puller", password = "s3cret-Pass" },
        },
    });

    [Fact]
    public async Task CredentialsFromThePullRequestAreUsed()
    {
        await using var berth = await StartBerthAsync();
        var pulled = await berth.PullAsync(_image.Reference, new AuthConfig { Username = "puller", Password = "s3cret-Pass" });
        Assert.Equal(_image.ConfigDigest, pulled.ImageRef);
    }

    [Fact]
    public async Task TheBase64AuthFieldIsUsed()
    {
        await using var berth = await StartBerthAsync();
        var auth = Convert.ToBase64String("puller:s3cret-Pass"u8.ToArray());
        Assert.Equal(_image.ConfigDigest, (await berth.PullAsync(_image.Reference, new AuthConfig { Auth = auth })).ImageRef);
    }

    [Fact]
    public async Task CredentialsFromTheConfigFileAreUsed()
    {
        await using var berth = await StartBerthAsync(credentials: true);
        Assert.Equal(_image.ConfigDigest, (await berth.PullAsync(_image.Reference)).ImageRef);
    }

    [Fact]
    public async Task MissingOrWrongCredentialsAreRefusedWithoutLeakingTheSecret()
    {
        await using var berth = await StartBerthAsync();
        await ExpectFailureAsync(() => berth.PullAsync(_image.Reference), StatusCode.PermissionDenied);
        var error = await ExpectFailureAsync(() => berth.PullAsync(_image.Reference, new AuthConfig { Username = "puller", Password = "wrong-Secret" }),
            StatusCode.PermissionDenied);
        Assert.DoesNotContain("wrong-Secret", error.Status.Detail);
        Assert.DoesNotContain("wrong-Secret", berth.OutputTail(500));
        Assert.Empty(await berth.ListAsync());
    }

    [Fact]
    public async Task AnUntrustedCertificateIsRefused()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            berth.PullAsync(_image.Reference, new AuthConfig { Username = "puller", Password = "s3cret-Pass" }));
        Assert.NotEqual(StatusCode.OK, error.StatusCode);
        Assert.Empty(await berth.ListAsync());
    }
}
