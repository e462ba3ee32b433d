using System.Net;
using System.Text;
using System.Web;
using Berth.ImageService.Registry;

namespace Berth.Tests.Unit.Registry;

/// <summary>The client's protocol behaviour, against a <see cref="FakeNetwork"/>.</summary>
public sealed class RegistryClientTests
{
    private const string Realm = "https://auth.test/token";
    private const string BearerChallenge = $"Bearer realm=\"{Realm}\",service=\"registry.test\",scope=\"repository:team/app:pull\"";

    private static readonly RegistryClientOptions Options = new()
    {
        Platform = new Platform("linux", "amd64"),
        BaseRetryDelay = TimeSpan.FromMilliseconds(1),
        RequestTimeout = TimeSpan.FromSeconds(5),
    };

    private static readonly TestImage Image = TestImage.Create("amd64");
    private static readonly ImageReference Reference = ImageReference.Parse("registry.test/team/app:v1");
    private static readonly Dictionary<string, RegistryHostConfig> NoHosts = [];

    private static RegistryClient Client(FakeNetwork network, Dictionary<string, RegistryHostConfig>? hosts = null, RegistryClientOptions? options = null) =>
        new(hosts ?? NoHosts, options ?? Options, _ => network);

    /// <summary>A registry holding <see cref="Image"/> as team/app:v1, plus <paramref name="extra"/> manifests by tag or digest.</summary>
    private static Task<HttpResponseMessage> Serve(FakeNetwork.Request request, params (string Name, byte[] Bytes, string MediaType)[] extra)
    {
        var path = request.Uri.AbsolutePath;
        var manifests = extra.Append(("v1", Image.Manifest, TestImage.OciManifestType)).Append((Image.ManifestDigest, Image.Manifest, TestImage.OciManifestType));
        foreach (var (name, bytes, mediaType) in manifests)
        {
            if (path.EndsWith($"/v2/team/app/manifests/{name}", StringComparison.Ordinal))
            {
                return Task.FromResult(FakeNetwork.Answer(HttpStatusCode.OK, bytes, mediaType));
            }
        }
        foreach (var blob in new[] { Image.Config, Image.Layer })
        {
            if (path.EndsWith($"/v2/team/app/blobs/{TestImage.DigestOf(blob)}", StringComparison.Ordinal))
            {
                return Task.FromResult(FakeNetwork.Answer(HttpStatusCode.OK, blob, "application/octet-stream"));
            }
        }
        return Task.FromResult(FakeNetwork.Json("""{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}""", HttpStatusCode.NotFound));
    }

    private static async Task<byte[]> ReadLayerAsync(RegistryClient client, ResolvedImage image)
    {
        await using var stream = await client.OpenBlobAsync(image, image.Layers[0], CancellationToken.None);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    [Fact]
    public async Task ResolvesAManifestAndStreamsItsBlobs()
    {
        var network = new FakeNetwork { Respond = request => Serve(request) };
        using var client = Client(network);

        var image = await client.ResolveAsync(Reference, null, CancellationToken.None);

        Assert.Equal(Reference, image.Reference);
        Assert.Equal(Image.ManifestDigest, image.RepoDigest);
        Assert.Equal(Image.ManifestDigest, image.ManifestDigest);
        Assert.Equal(TestImage.OciManifestType, image.ManifestMediaType);
        Assert.Equal(Image.Manifest, image.ManifestBytes);
        Assert.Equal(Image.ConfigDigest, image.Config.Digest);
        Assert.Equal(Image.LayerDigest, Assert.Single(image.Layers).Digest);
        Assert.Equal(new Uri("https://registry.test/"), image.Source);
        Assert.Equal("application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, " +
            "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json", network.Requests[0].Accept);
        Assert.Equal("https://registry.test/v2/team/app/manifests/v1", network.Requests[0].Uri.ToString());

        Assert.Equal(Image.Config, await client.GetBlobBytesAsync(image, image.Config, 1024 * 1024, CancellationToken.None));
        Assert.Equal(Image.Layer, await ReadLayerAsync(client, image));
    }

    [Fact]
    public async Task ResolvesAnIndexToTheManifestOfTheNodesPlatform()
    {
        var arm64 = TestImage.Create("arm64", "v8");
        var index = TestImage.IndexOf((Image, "linux/amd64"), (arm64, "linux/arm64/v8"));
        var network = new FakeNetwork
        {
            Respond = request => Serve(request, ("multi", index, TestImage.OciIndexType), (arm64.ManifestDigest, arm64.Manifest, TestImage.OciManifestType)),
        };
        using var client = Client(network, options: Options with { Platform = new Platform("linux", "arm64") });

        var image = await client.ResolveAsync(ImageReference.Parse("registry.test/team/app:multi"), null, CancellationToken.None);

        Assert.Equal(TestImage.DigestOf(index), image.RepoDigest);
        Assert.Equal(arm64.ManifestDigest, image.ManifestDigest);
        Assert.Equal(arm64.Manifest, image.ManifestBytes);
        Assert.Equal(arm64.ConfigDigest, image.Config.Digest);
        Assert.Equal(["/v2/team/app/manifests/multi", $"/v2/team/app/manifests/{arm64.ManifestDigest}"],
            network.Requests.Select(request => request.Uri.AbsolutePath));
    }

    [Fact]
    public async Task FetchesABearerTokenWithBasicAuthAndReusesItForBlobs()
    {
        var network = new FakeNetwork
        {
            Respond = request => request.Uri.Authority switch
            {
                "auth.test" when request.Authorization?.ToString() == "Basic " + FakeNetwork.Basic("alice", "s3cret") =>
                    Task.FromResult(FakeNetwork.Json("""{"token":"tok-1","expires_in":300}""")),
                "auth.test" => Task.FromResult(FakeNetwork.Json("{}", HttpStatusCode.Unauthorized)),
                _ when request.Authorization?.ToString() == "Bearer tok-1" => Serve(request),
                _ => Task.FromResult(FakeNetwork.Challenge(BearerChallenge)),
            },
        };
        using var client = Client(network);

        var image = await client.ResolveAsync(Reference, new RegistryCredentials("alice", "s3cret", null, null), CancellationToken.None);
        Assert.Equal(Image.Layer, await ReadLayerAsync(client, image));
        await client.ResolveAsync(Reference, new RegistryCredentials("alice", "s3cret", null, null), CancellationToken.None);

        var tokenRequest = Assert.Single(network.To("auth.test"));
        var query = HttpUtility.ParseQueryString(tokenRequest.Uri.Query);
        Assert.Equal(HttpMethod.Get, tokenRequest.Method);
        Assert.Equal("registry.test", query["service"]);
        Assert.Equal("repository:team/app:pull", query["scope"]);
        Assert.Equal("alice", query["account"]);
        // One 401, then the token is sent at once: manifest, blob and the second resolve.
        Assert.Equal([null, "Bearer tok-1", "Bearer tok-1", "Bearer tok-1"], network.To("registry.test").Select(request => request.Authorization?.ToString()));
    }

    [Fact]
    public async Task AsksForATokenScopedToEachRepository()
    {
        var network = new FakeNetwork
        {
            Respond = request => request.Uri.Authority switch
            {
                "auth.test" => Task.FromResult(FakeNetwork.Json(
                    $$"""{"token":"{{HttpUtility.ParseQueryString(request.Uri.Query)["scope"]}}"}""")),
                _ when request.Authorization?.ToString() == "Bearer repository:team/app:pull" => Serve(request),
                _ => Task.FromResult(FakeNetwork.Challenge(
                    $"Bearer realm=\"{Realm}\",scope=\"repository:{request.Uri.AbsolutePath.Split("/manifests/")[0][4..]}:pull\"")),
            },
        };
        using var client = Client(network);
        await client.ResolveAsync(Reference, null, CancellationToken.None);

        // The host's challenge is known by now, so a token for the other repository is asked for first.
        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            client.ResolveAsync(ImageReference.Parse("registry.test/team/other:v1"), null, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unauthorized, error.Reason);
        Assert.Equal(["repository:team/app:pull", "repository:team/other:pull", "repository:team/other:pull"],
            network.To("auth.test").Select(request => HttpUtility.ParseQueryString(request.Uri.Query)["scope"]));
    }

    [Fact]
    public async Task NeverServesATokenObtainedWithCredentialsToAnotherCaller()
    {
        var network = new FakeNetwork
        {
            Respond = request => request.Uri.Authority switch
            {
                "auth.test" => Task.FromResult(FakeNetwork.Json(
                    request.Authorization is null ? """{"token":"anonymous"}""" : """{"token":"private"}""")),
                _ when request.Authorization?.ToString() == "Bearer private" => Serve(request),
                _ => Task.FromResult(FakeNetwork.Challenge(BearerChallenge)),
            },
        };
        using var client = Client(network);
        await client.ResolveAsync(Reference, new RegistryCredentials("alice", "s3cret", null, null), CancellationToken.None);

        var error = await Assert.ThrowsAsync<RegistryException>(() => client.ResolveAsync(Reference, null, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unauthorized, error.Reason);
        Assert.StartsWith("pull access to team/app on registry.test was denied: the repository does not exist or needs credentials", error.Message);
    }

    [Fact]
    public async Task NeverSendsCredentialsToAPlainHttpTokenService()
    {
        var network = new FakeNetwork
        {
            Respond = request => request.Uri.Authority switch
            {
                "auth.test" => Task.FromResult(FakeNetwork.Json("""{"token":"anonymous"}""")),
                _ when request.Authorization is not null => Serve(request),
                _ => Task.FromResult(FakeNetwork.Challenge("Bearer realm=\"http://auth.test/token\",service=\"registry.test\"")),
            },
        };
        using var client = Client(network);

        await client.ResolveAsync(Reference, null, CancellationToken.None);
        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            client.ResolveAsync(Reference, new RegistryCredentials("alice", "s3cret", null, null), CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unauthorized, error.Reason);
        Assert.Equal("refusing to send the credentials for registry.test to the token service http://auth.test/token over plain HTTP", error.Message);
        Assert.All(network.To("auth.test"), request => Assert.Null(request.Authorization));
    }

    [Fact]
    public async Task ExchangesAnIdentityTokenWithARefreshTokenGrant()
    {
        var network = new FakeNetwork
        {
            Respond = request => request.Uri.Authority switch
            {
                "auth.test" => Task.FromResult(FakeNetwork.Json("""{"access_token":"tok-2","expires_in":60,"refresh_token":"r2"}""")),
                _ when request.Authorization?.ToString() == "Bearer tok-2" => Serve(request),
                _ => Task.FromResult(FakeNetwork.Challenge(BearerChallenge)),
            },
        };
        using var client = Client(network);

        await client.ResolveAsync(Reference, new RegistryCredentials(null, null, "refresh-xyz", null), CancellationToken.None);

        var tokenRequest = Assert.Single(network.To("auth.test"));
        var form = HttpUtility.ParseQueryString(tokenRequest.Body!);
        Assert.Equal(HttpMethod.Post, tokenRequest.Method);
        Assert.Null(tokenRequest.Authorization);
        Assert.Equal("refresh_token", form["grant_type"]);
        Assert.Equal("refresh-xyz", form["refresh_token"]);
        Assert.Equal("registry.test", form["service"]);
        Assert.Equal("repository:team/app:pull", form["scope"]);
        Assert.Equal("berth", form["client_id"]);
    }

    [Fact]
    public async Task ReportsRejectedCredentialsWithoutTheSecret()
    {
        var network = new FakeNetwork
        {
            Respond = request => Task.FromResult(request.Uri.Authority == "auth.test"
                ? FakeNetwork.Json("""{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}""", HttpStatusCode.Unauthorized)
                : FakeNetwork.Challenge(BearerChallenge)),
        };
        using var client = Client(network);

        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            client.ResolveAsync(Reference, new RegistryCredentials("alice", "wrong-pass", null, null), CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unauthorized, error.Reason);
        Assert.Equal("the token service auth.test rejected the credentials for registry.test: 401 Unauthorized " +
            "(UNAUTHORIZED: incorrect username or password)", error.Message);
        Assert.DoesNotContain("wrong-pass", error.ToString());
    }

    [Fact]
    public async Task AnswersABasicChallengeWithTheCredentials()
    {
        var expected = "Basic " + FakeNetwork.Basic("bob", "pw");
        var network = new FakeNetwork
        {
            Respond = request => request.Authorization?.ToString() == expected
                ? Serve(request)
                : Task.FromResult(FakeNetwork.Challenge("Basic realm=\"Registry Realm\"")),
        };
        using var client = Client(network);

        var image = await client.ResolveAsync(Reference, new RegistryCredentials("bob", "pw", null, null), CancellationToken.None);
        Assert.Equal(Image.Layer, await ReadLayerAsync(client, image));

        Assert.Equal([null, expected, expected], network.Requests.Select(request => request.Authorization?.ToString()));
        var anonymous = await Assert.ThrowsAsync<RegistryException>(() => client.ResolveAsync(Reference, null, CancellationToken.None));
        Assert.Equal(RegistryErrorKind.Unauthorized, anonymous.Reason);
        Assert.Equal("registry.test needs credentials (Basic) to pull team/app", anonymous.Message);
        var wrong = await Assert.ThrowsAsync<RegistryException>(() =>
            client.ResolveAsync(Reference, new RegistryCredentials("bob", "nope", null, null), CancellationToken.None));
        Assert.StartsWith("the credentials for registry.test were rejected or do not grant pull access to team/app", wrong.Message);
    }

    [Fact]
    public async Task SendsARegistryTokenAsItIs()
    {
        var network = new FakeNetwork
        {
            Respond = request => request.Authorization?.ToString() == "Bearer given-token"
                ? Serve(request)
                : Task.FromResult(FakeNetwork.Challenge(BearerChallenge)),
        };
        using var client = Client(network);

        await client.ResolveAsync(Reference, new RegistryCredentials(null, null, null, "given-token"), CancellationToken.None);
        var rejected = await Assert.ThrowsAsync<RegistryException>(() =>
            client.ResolveAsync(Reference, new RegistryCredentials(null, null, null, "stale-token"), CancellationToken.None));

        Assert.Empty(network.To("auth.test"));
        Assert.Equal("registry.test rejected the registry token for team/app", rejected.Message);
    }

    [Theory]
    [InlineData(null, "carol", "from-config")]
    [InlineData("dave", "dave", "from-call")]
    public async Task TakesCredentialsFromTheCallThenFromTheHostConfiguration(string? callUser, string expectedUser, string expectedPassword)
    {
        var network = new FakeNetwork
        {
            Respond = request => request.Authorization is null
                ? Task.FromResult(FakeNetwork.Challenge("Basic realm=\"r\""))
                : Serve(request),
        };
        var hosts = new Dictionary<string, RegistryHostConfig> { ["registry.test"] = new() { Auth = FakeNetwork.Basic("carol", "from-config") } };
        using var client = Client(network, hosts);

        await client.ResolveAsync(Reference, callUser is null ? null : new RegistryCredentials(callUser, "from-call", null, null), CancellationToken.None);

        Assert.Equal("Basic " + FakeNetwork.Basic(expectedUser, expectedPassword), network.Requests[^1].Authorization?.ToString());
    }

    [Fact]
    public async Task RetriesTooManyRequestsAndServerErrors()
    {
        var answers = new Queue<HttpStatusCode>([HttpStatusCode.ServiceUnavailable, HttpStatusCode.TooManyRequests]);
        var network = new FakeNetwork
        {
            Respond = request => answers.TryDequeue(out var status) ? Task.FromResult(FakeNetwork.Answer(status)) : Serve(request),
        };
        using var client = Client(network);

        await client.ResolveAsync(Reference, null, CancellationToken.None);

        Assert.Equal(3, network.Requests.Count);
    }

    [Fact]
    public async Task GivesUpAsUnavailableAfterTheLastAttempt()
    {
        var network = new FakeNetwork { Respond = _ => Task.FromResult(FakeNetwork.Answer(HttpStatusCode.InternalServerError)) };
        using var client = Client(network);

        var error = await Assert.ThrowsAsync<RegistryException>(() => client.ResolveAsync(Reference, null, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unavailable, error.Reason);
        Assert.Equal("GET https://registry.test/v2/team/app/manifests/v1 failed: the registry answered 500 InternalServerError", error.Message);
        Assert.Equal(Options.MaxAttempts, network.Requests.Count);
    }

    [Fact]
    public async Task RetriesConnectionErrors()
    {
        var network = new FakeNetwork { Respond = _ => throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused") };
        using var client = Client(network, options: Options with { MaxAttempts = 3 });

        var error = await Assert.ThrowsAsync<RegistryException>(() => client.ResolveAsync(Reference, null, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unavailable, error.Reason);
        Assert.Contains("Connection refused", error.Message);
        Assert.Equal(3, network.Requests.Count);
    }

    [Theory]
    [InlineData(HttpStatusCode.NotFound, RegistryErrorKind.NotFound, "manifest of registry.test/team/app:v1 was not found at https://registry.test/: 404 NotFound (MANIFEST_UNKNOWN: manifest unknown)")]
    [InlineData(HttpStatusCode.BadRequest, RegistryErrorKind.Unavailable, "manifest of registry.test/team/app:v1: https://registry.test/ answered 400 BadRequest (MANIFEST_UNKNOWN: manifest unknown)")]
    [InlineData(HttpStatusCode.Forbidden, RegistryErrorKind.Unauthorized, "pull access to team/app on registry.test was denied: the repository does not exist or needs credentials (403 Forbidden (MANIFEST_UNKNOWN: manifest unknown))")]
    public async Task NeverRetriesOtherClientErrors(HttpStatusCode status, RegistryErrorKind kind, string message)
    {
        var network = new FakeNetwork { Respond = _ => Task.FromResult(FakeNetwork.Json("""{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}""", status)) };
        using var client = Client(network);

        var error = await Assert.ThrowsAsync<RegistryException>(() => client.ResolveAsync(Reference, null, CancellationToken.None));

        Assert.Equal(kind, error.Reason);
        Assert.Equal(message, error.Message);
        Assert.Single(network.Requests);
    }

    [Fact]
    public async Task LimitsEachAttemptToTheRequestTimeout()
    {
        var network = new FakeNetwork { Respond = _ => new TaskCompletionSource<HttpResponseMessage>().Task };
        using var client = Client(network, options: Options with { MaxAttempts = 2, RequestTimeout = TimeSpan.FromMilliseconds(100) });

        var error = await Assert.ThrowsAsync<RegistryException>(() => client.ResolveAsync(Reference, null, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unavailable, error.Reason);
        Assert.EndsWith("failed: no answer within 0.1 s", error.Message);
        Assert.Equal(2, network.Requests.Count);
    }

    [Fact]
    public async Task StopsWhenCancelled()
    {
        var network = new FakeNetwork { Respond = _ => new TaskCompletionSource<HttpResponseMessage>().Task };
        using var client = Client(network);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ResolveAsync(Reference, null, cancellation.Token));
        Assert.Single(network.Requests);
    }

    [Fact]
    public async Task TriesMirrorsInOrderBeforeTheRegistry()
    {
        var network = new FakeNetwork
        {
            Respond = request => request.Uri.Authority switch
            {
                "mirror-a.test" => throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused"),
                "mirror-b.test:5000" => Task.FromResult(FakeNetwork.Answer(HttpStatusCode.NotFound)),
                _ => Serve(request),
            },
        };
        var hosts = new Dictionary<string, RegistryHostConfig>
        {
            ["registry.test"] = new() { Mirrors = ["https://mirror-a.test", "http://mirror-b.test:5000/v2/"] },
        };
        using var client = Client(network, hosts, Options with { MaxAttempts = 2 });

        var image = await client.ResolveAsync(Reference, null, CancellationToken.None);
        Assert.Equal(Image.Layer, await ReadLayerAsync(client, image));

        Assert.Equal(new Uri("https://registry.test/"), image.Source);
        Assert.Equal([
                "https://mirror-a.test/v2/team/app/manifests/v1", "https://mirror-a.test/v2/team/app/manifests/v1",
                "http://mirror-b.test:5000/v2/team/app/manifests/v1",
                "https://registry.test/v2/team/app/manifests/v1", $"https://registry.test/v2/team/app/blobs/{Image.LayerDigest}",
            ],
            network.Requests.Select(request => request.Uri.ToString()));
    }

    [Fact]
    public async Task FetchesBlobsFromTheMirrorThatServedTheManifest()
    {
        var network = new FakeNetwork { Respond = request => Serve(request) };
        var hosts = new Dictionary<string, RegistryHostConfig> { ["registry.test"] = new() { Mirrors = ["http://mirror.test/cache"] } };
        using var client = Client(network, hosts);

        var image = await client.ResolveAsync(Reference, null, CancellationToken.None);
        Assert.Equal(Image.Layer, await ReadLayerAsync(client, image));

        Assert.Equal(new Uri("http://mirror.test/cache/"), image.Source);
        Assert.All(network.Requests, request => Assert.StartsWith("http://mirror.test/cache/v2/team/app/", request.Uri.ToString()));
    }

    [Fact]
    public async Task ReportsTheLastEndpointsError()
    {
        var network = new FakeNetwork
        {
            Respond = request => Task.FromResult(FakeNetwork.Answer(request.Uri.Host == "mirror.test" ? HttpStatusCode.BadGateway : HttpStatusCode.NotFound)),
        };
        var hosts = new Dictionary<string, RegistryHostConfig> { ["registry.test"] = new() { Mirrors = ["https://mirror.test"] } };
        using var client = Client(network, hosts);

        var error = await Assert.ThrowsAsync<RegistryException>(() => client.ResolveAsync(Reference, null, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.NotFound, error.Reason);
    }

    [Fact]
    public async Task VerifiesAManifestAgainstTheDigestOfTheReference()
    {
        var other = TestImage.Create("amd64");
        var network = new FakeNetwork { Respond = _ => Task.FromResult(FakeNetwork.Answer(HttpStatusCode.OK, other.Manifest, TestImage.OciManifestType)) };
        using var client = Client(network);

        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            client.ResolveAsync(ImageReference.Parse($"registry.test/team/app:v1@{Image.ManifestDigest}"), null, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.DigestMismatch, error.Reason);
        Assert.Contains($"with digest {other.ManifestDigest}", error.Message);
        Assert.EndsWith($"/manifests/{Image.ManifestDigest}", network.Requests[0].Uri.AbsolutePath);
    }

    [Fact]
    public async Task RefusesDigestsOtherThanSha256()
    {
        var network = new FakeNetwork { Respond = request => Serve(request) };
        using var client = Client(network);

        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            client.ResolveAsync(ImageReference.Parse("registry.test/team/app@sha512:" + new string('a', 128)), null, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unsupported, error.Reason);
        Assert.Empty(network.Requests);
    }

    [Fact]
    public async Task RefusesAManifestLargerThanTheCap()
    {
        var network = new FakeNetwork { Respond = _ => Task.FromResult(FakeNetwork.Answer(HttpStatusCode.OK, new byte[5 * 1024 * 1024], TestImage.OciManifestType)) };
        using var client = Client(network);

        var error = await Assert.ThrowsAsync<RegistryException>(() => client.ResolveAsync(Reference, null, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.InvalidManifest, error.Reason);
        Assert.Contains("is larger than 4194304 bytes", error.Message);
    }

    [Fact]
    public async Task RefusesABlobOfAnotherSizeOrContent()
    {
        var tampered = Image.Layer.ToArray();
        tampered[0] ^= 1;
        var blobBody = Image.Layer[..^1];
        var network = new FakeNetwork
        {
            Respond = request => request.Uri.AbsolutePath.Contains("/blobs/", StringComparison.Ordinal)
                ? Task.FromResult(FakeNetwork.Answer(HttpStatusCode.OK, blobBody))
                : Serve(request),
        };
        using var client = Client(network);
        var image = await client.ResolveAsync(Reference, null, CancellationToken.None);

        var wrongLength = await Assert.ThrowsAsync<RegistryException>(() => client.OpenBlobAsync(image, image.Layers[0], CancellationToken.None));
        blobBody = tampered;
        var wrongContent = await Assert.ThrowsAsync<RegistryException>(() => ReadLayerAsync(client, image));
        var tooLarge = await Assert.ThrowsAsync<RegistryException>(() => client.GetBlobBytesAsync(image, image.Layers[0], 100, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.DigestMismatch, wrongLength.Reason);
        Assert.Contains($"announced {Image.Layer.Length - 1} bytes", wrongLength.Message);
        Assert.Equal(RegistryErrorKind.DigestMismatch, wrongContent.Reason);
        Assert.Equal(RegistryErrorKind.Unsupported, tooLarge.Reason);
    }

    [Fact]
    public async Task FailsABlobDownloadThatStalls()
    {
        var body = new System.IO.Pipelines.Pipe();
        await body.Writer.WriteAsync(Image.Layer.AsMemory(0, 100));
        var network = new FakeNetwork
        {
            Respond = request => request.Uri.AbsolutePath.Contains("/blobs/", StringComparison.Ordinal)
                ? Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(body.Reader.AsStream()) })
                : Serve(request),
        };
        using var client = Client(network, options: Options with { StallTimeout = TimeSpan.FromMilliseconds(200) });
        var image = await client.ResolveAsync(Reference, null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<RegistryException>(() => ReadLayerAsync(client, image));

        Assert.Equal(RegistryErrorKind.Stalled, error.Reason);
        Assert.Equal($"blob {Image.LayerDigest}: no data for 0.2 s after 100 of {Image.Layer.Length} bytes", error.Message);
    }

    [Fact]
    public async Task FallsBackToPlainHttpOnlyForInsecureAndLoopbackHosts()
    {
        var network = new FakeNetwork
        {
            Respond = request => request.Uri.Scheme == "https"
                ? throw new HttpRequestException(HttpRequestError.SecureConnectionError, "The SSL connection could not be established")
                : Serve(request),
        };
        using var strict = Client(network);
        var refused = await Assert.ThrowsAsync<RegistryException>(() => strict.ResolveAsync(Reference, null, CancellationToken.None));
        Assert.Equal(RegistryErrorKind.Unavailable, refused.Reason);
        Assert.Single(network.Requests); // a TLS failure is not retried, and never downgraded for an ordinary host

        using var insecure = Client(network, new Dictionary<string, RegistryHostConfig> { ["registry.test"] = new() { Insecure = true } });
        var image = await insecure.ResolveAsync(Reference, null, CancellationToken.None);
        Assert.Equal(new Uri("http://registry.test/"), image.Source);
        Assert.Equal(Image.Layer, await ReadLayerAsync(insecure, image));

        using var loopback = Client(network);
        var local = await loopback.ResolveAsync(ImageReference.Parse("127.0.0.2:5000/team/app:v1"), null, CancellationToken.None);
        Assert.Equal(new Uri("http://127.0.0.2:5000/"), local.Source);
    }

    [Theory]
    [InlineData("ftp://mirror.test")]
    [InlineData("mirror.test:5000")]
    [InlineData("https://mirror.test/?x=1")]
    public void RefusesAMirrorThatIsNotAnHttpUrl(string mirror)
    {
        var hosts = new Dictionary<string, RegistryHostConfig> { ["registry.test"] = new() { Mirrors = [mirror] } };

        var error = Assert.Throws<ArgumentException>(() => new RegistryClient(hosts, Options));

        Assert.Contains($"mirror \"{mirror}\" of registry \"registry.test\"", error.Message);
    }

    [Fact]
    public void DecodesTheAuthFieldOfADockerConfig()
    {
        Assert.Equal(new RegistryCredentials("user", "pa:ss", null, null), RegistryCredentials.FromAuthField(FakeNetwork.Basic("user", "pa:ss")));
        Assert.Contains("not valid base64", Assert.Throws<FormatException>(() => RegistryCredentials.FromAuthField("%%%")).Message);
        Assert.Contains("no colon", Assert.Throws<FormatException>(() =>
            RegistryCredentials.FromAuthField(Convert.ToBase64String(Encoding.UTF8.GetBytes("userpass")))).Message);
        Assert.DoesNotContain("pa:ss", new RegistryCredentials("user", "pa:ss", "id", "tok").ToString());
    }
}
