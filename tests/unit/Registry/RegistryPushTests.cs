using System.Net;
using System.Text;
using System.Web;
using Berth.Core.Errors;
using Berth.ImageService.Registry;

namespace Berth.Tests.Unit.Registry;

/// <summary>The push and login side of the registry client, against a <see cref="FakeNetwork"/>; the real registry is the e2e tests'.</summary>
public sealed class RegistryPushTests : IDisposable
{
    private const string Realm = "https://auth.test/token";
    private static readonly RegistryClientOptions Options = new()
    {
        BaseRetryDelay = TimeSpan.FromMilliseconds(1),
        RequestTimeout = TimeSpan.FromSeconds(5),
        PushChunkBytes = 4,
    };

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("berth-unit-push-");

    public void Dispose() => _directory.Delete(recursive: true);

    private RegistryLogins Logins() => new(Path.Combine(_directory.FullName, "auth.json"));

    private (Descriptor Blob, string File) Blob(string content)
    {
        var bytes = Encoding.ASCII.GetBytes(content);
        var file = Path.Combine(_directory.FullName, Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(file, bytes);
        return (new Descriptor("application/octet-stream", Sha256Digest.Of(bytes), bytes.Length), file);
    }

    /// <summary>A token service that gives the scopes it was asked for as the token, and a registry that wants that token.</summary>
    private static Task<HttpResponseMessage> TokenService(FakeNetwork.Request request, Func<FakeNetwork.Request, HttpResponseMessage> registry)
    {
        if (request.Uri.Host == "auth.test")
        {
            var scopes = HttpUtility.ParseQueryString(request.Uri.Query).GetValues("scope") ?? [];
            return Task.FromResult(FakeNetwork.Json($$"""{"token":"{{string.Join('+', scopes)}}"}"""));
        }
        return Task.FromResult(request.Authorization is null
            ? FakeNetwork.Challenge($"Bearer realm=\"{Realm}\",service=\"registry.test\"")
            : registry(request));
    }

    [Fact]
    public async Task AskedForPushAndMountScopesItMountsOrUploadsInChunksToTheSessionsLocation()
    {
        var network = new FakeNetwork
        {
            Respond = request => TokenService(request, request => (request.Method.Method, request.Uri.AbsolutePath) switch
            {
                ("HEAD", _) => FakeNetwork.Answer(HttpStatusCode.NotFound),
                ("POST", _) when request.Uri.Query.Contains("from=team%2Fbase", StringComparison.Ordinal) => FakeNetwork.Answer(HttpStatusCode.Created),
                ("POST", _) => Located(HttpStatusCode.Accepted, "/v2/team/app/blobs/uploads/s1?_state=a"),
                ("PATCH", _) => Located(HttpStatusCode.Accepted, $"/v2/team/app/blobs/uploads/s1?_state={request.ContentRange}"),
                ("PUT", _) => FakeNetwork.Answer(HttpStatusCode.Created),
                _ => FakeNetwork.Answer(HttpStatusCode.BadRequest),
            }),
        };
        using var client = new RegistryClient(new Dictionary<string, RegistryHostConfig>(), Options, _ => network);
        var push = client.OpenPush(ImageReference.Parse("registry.test/team/app:v1"), null);
        var (mounted, _) = Blob("mounted");
        var (chunked, file) = Blob("0123456789");

        Assert.False(await push.HasBlobAsync(mounted, CancellationToken.None));
        Assert.Null(await push.StartUploadAsync(mounted, "team/base", CancellationToken.None));
        var session = await push.StartUploadAsync(chunked, null, CancellationToken.None);
        var sent = new List<long>();
        await push.UploadAsync(session!, chunked, file, sent.Add, CancellationToken.None);

        var registry = network.To("registry.test").Where(request => request.Authorization is not null).ToList();
        Assert.Equal("Bearer repository:team/app:pull,push", registry[0].Authorization!.ToString());
        Assert.Equal("Bearer repository:team/app:pull,push+repository:team/base:pull", registry[1].Authorization!.ToString());
        var patches = registry.Where(request => request.Method == HttpMethod.Patch).ToList();
        Assert.Equal(["0-3", "4-7", "8-9"], patches.Select(request => request.ContentRange));
        Assert.Equal(["0123", "4567", "89"], patches.Select(request => request.Body));
        Assert.Equal(["_state=a", "_state=0-3", "_state=4-7"], patches.Select(request => request.Uri.Query.TrimStart('?')));
        var close = registry.Single(request => request.Method == HttpMethod.Put);
        Assert.Equal($"?_state=8-9&digest={Uri.EscapeDataString(chunked.Digest)}", close.Uri.Query);
        Assert.Equal("", close.Body);
        Assert.Equal([4L, 8, 10, 10], sent);
    }

    [Fact]
    public async Task ASmallBlobGoesInOnePutAndAManifestWithItsExactBytes()
    {
        var network = new FakeNetwork
        {
            Respond = request => Task.FromResult(request.Method == HttpMethod.Post
                ? Located(HttpStatusCode.Accepted, "https://registry.test/v2/team/app/blobs/uploads/s2")
                : FakeNetwork.Answer(HttpStatusCode.Created)),
        };
        using var client = new RegistryClient(new Dictionary<string, RegistryHostConfig>(), Options, _ => network);
        var push = client.OpenPush(ImageReference.Parse("registry.test/team/app:v1"), null);
        var (blob, file) = Blob("abc");
        var manifest = Encoding.UTF8.GetBytes("""{ "schemaVersion": 2, "odd":   "spacing" }""");

        await push.UploadAsync((await push.StartUploadAsync(blob, null, CancellationToken.None))!, blob, file, _ => { }, CancellationToken.None);
        var digest = await push.PutManifestAsync("v1", "application/vnd.oci.image.manifest.v1+json", manifest, CancellationToken.None);

        var put = network.Requests.Where(request => request.Method == HttpMethod.Put).ToList();
        Assert.Equal($"/v2/team/app/blobs/uploads/s2?digest={Uri.EscapeDataString(blob.Digest)}", put[0].Uri.PathAndQuery);
        Assert.Equal("abc", put[0].Body);
        Assert.Null(put[0].ContentRange);
        Assert.Equal("/v2/team/app/manifests/v1", put[1].Uri.AbsolutePath);
        Assert.Equal(Encoding.UTF8.GetString(manifest), put[1].Body);
        Assert.Equal(Sha256Digest.Of(manifest), digest);
    }

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized, ErrorKind.Unauthenticated)]
    [InlineData(HttpStatusCode.Forbidden, ErrorKind.PermissionDenied)]
    [InlineData(HttpStatusCode.BadRequest, ErrorKind.FailedPrecondition)]
    [InlineData(HttpStatusCode.MethodNotAllowed, ErrorKind.FailedPrecondition)]
    public async Task ARefusedPushSaysWhoRefusedAndWhy(HttpStatusCode status, ErrorKind kind)
    {
        var network = new FakeNetwork
        {
            Respond = request => Task.FromResult(status == HttpStatusCode.Unauthorized
                ? FakeNetwork.Challenge("Basic realm=\"test\"")
                : FakeNetwork.Json("""{"errors":[{"code":"DENIED","message":"no pushing here"}]}""", status)),
        };
        using var client = new RegistryClient(new Dictionary<string, RegistryHostConfig>(), Options, _ => network);
        var push = client.OpenPush(ImageReference.Parse("registry.test/team/app:v1"), new RegistryCredentials("u", "p", null, null));

        var error = await Assert.ThrowsAsync<RegistryException>(() => push.StartUploadAsync(Blob("x").Blob, null, CancellationToken.None));

        Assert.Equal(kind, error.Kind);
        Assert.Contains("registry.test", error.Message);
        Assert.DoesNotContain("\"p\"", error.Message);
    }

    [Fact]
    public async Task ALoginIsKeptOnlyWhenTheRegistryAcceptsItAndThenWinsOverTheConfiguredCredentials()
    {
        var network = new FakeNetwork
        {
            Respond = request => Task.FromResult(request.Authorization?.Parameter == FakeNetwork.Basic("op", "right")
                ? FakeNetwork.Json("{}")
                : FakeNetwork.Challenge("Basic realm=\"test\"")),
        };
        var logins = Logins();
        var hosts = new Dictionary<string, RegistryHostConfig> { ["registry.test"] = new() { Username = "config", Password = "old" } };
        using var client = new RegistryClient(hosts, Options, _ => network, logins);

        var refused = await Assert.ThrowsAsync<RegistryException>(() =>
            client.LoginAsync("registry.test", new RegistryCredentials("op", "wrong", null, null), CancellationToken.None));
        Assert.Equal(ErrorKind.Unauthenticated, refused.Kind);
        Assert.False(File.Exists(logins.Path));
        Assert.Equal("/v2/", network.Requests[0].Uri.AbsolutePath);

        await client.LoginAsync("registry.test", new RegistryCredentials("op", "right", null, null), CancellationToken.None);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(logins.Path));

        var push = client.OpenPush(ImageReference.Parse("registry.test/team/app:v1"), null);
        await push.HasBlobAsync(Blob("x").Blob, CancellationToken.None);
        Assert.Equal(FakeNetwork.Basic("op", "right"), network.Requests[^1].Authorization?.Parameter);
        var fromCall = client.OpenPush(ImageReference.Parse("registry.test/team/app:v1"), new RegistryCredentials("call", "c", null, null));
        await Assert.ThrowsAsync<RegistryException>(() => fromCall.HasBlobAsync(Blob("x").Blob, CancellationToken.None));
        Assert.Equal(FakeNetwork.Basic("call", "c"), network.Requests[^1].Authorization?.Parameter);

        Assert.True(logins.Remove("registry.test"));
        var afterLogout = client.OpenPush(ImageReference.Parse("registry.test/team/app:v1"), null);
        await Assert.ThrowsAsync<RegistryException>(() => afterLogout.HasBlobAsync(Blob("x").Blob, CancellationToken.None));
        Assert.Equal(FakeNetwork.Basic("config", "old"), network.Requests[^1].Authorization?.Parameter);
        Assert.False(logins.Remove("registry.test"));
    }

    [Fact]
    public void TheLoginFileIsReadAgainWhenSomeoneElseChangesIt()
    {
        var logins = Logins();
        Assert.Null(logins.Find("registry.test"));

        File.WriteAllText(logins.Path, """{"registries":{"registry.test":{"username":"edited","password":"by-hand"}}}""");

        Assert.Equal(new RegistryCredentials("edited", "by-hand", null, null), logins.Find("registry.test"));
        File.WriteAllText(logins.Path, "not json");
        // A broken file does not stop lookups (every pull on the node makes one): they go on without it.
        Assert.Null(logins.Find("registry.test"));
        var error = Assert.Throws<BerthException>(() => logins.Save("other.test", new RegistryCredentials("u", "p", null, null)));
        Assert.Contains(logins.Path, error.Message);
        Assert.Equal("not json", File.ReadAllText(logins.Path));
    }

    [Theory]
    [InlineData("registry.example.com", "registry.example.com")]
    [InlineData("https://Registry.Example.com:5000/v2/", "registry.example.com:5000")]
    [InlineData("127.0.0.1:5000", "127.0.0.1:5000")]
    [InlineData("index.docker.io", "docker.io")]
    [InlineData("https://index.docker.io/v1/", "docker.io")]
    [InlineData("localhost", "localhost")]
    public void ARegistryIsKeptUnderTheHostImageNamesStartWith(string text, string host) =>
        Assert.Equal(host, RegistryLogins.NormalizeHost(text));

    [Theory]
    [InlineData("not a host")]
    [InlineData("https://")]
    [InlineData("bad_host!")]
    public void WhatIsNoRegistryHostIsRefused(string text) =>
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<BerthException>(() => RegistryLogins.NormalizeHost(text)).Kind);

    private static HttpResponseMessage Located(HttpStatusCode status, string location)
    {
        var response = FakeNetwork.Answer(status);
        response.Headers.Location = new Uri(location, UriKind.RelativeOrAbsolute);
        return response;
    }
}
