using Berth.ImageService.Registry;

namespace Berth.Tests.Unit.Registry;

/// <summary>Two real registries for the class: the upstream one and a mirror, both empty at first.</summary>
public sealed class LocalRegistries : IAsyncLifetime
{
    private LocalRegistry? upstream;
    private LocalRegistry? mirror;

    internal LocalRegistry Upstream => upstream ?? throw new InvalidOperationException("not started");
    internal LocalRegistry Mirror => mirror ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        try
        {
            upstream = await LocalRegistry.StartAsync();
            mirror = await LocalRegistry.StartAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (mirror is not null)
            {
                await mirror.DisposeAsync();
            }
        }
        finally
        {
            if (upstream is not null)
            {
                await upstream.DisposeAsync();
            }
        }
    }
}

/// <summary>The client against a real registry (distribution 2.8) that images were pushed to through its HTTP API.</summary>
[Trait("Category", "Registry")]
public sealed class RealRegistryTests(LocalRegistries registries) : IClassFixture<LocalRegistries>
{
    private static readonly RegistryClientOptions Options = new()
    {
        Platform = new Platform("linux", "amd64"),
        BaseRetryDelay = TimeSpan.FromMilliseconds(10),
        RequestTimeout = TimeSpan.FromSeconds(10),
        StallTimeout = TimeSpan.FromSeconds(10),
    };

    private Dictionary<string, RegistryHostConfig> HostsWithMirrors() => new()
    {
        // A mirror that refuses connections, then one that does not have the image, then the registry.
        [registries.Upstream.Domain] = new() { Mirrors = [$"http://127.0.0.1:{LocalRegistry.FreeLoopbackPort()}", registries.Mirror.Url.ToString()] },
    };

    private static async Task<byte[]> ReadBlobAsync(RegistryClient client, ResolvedImage image, Descriptor blob)
    {
        await using var stream = await client.OpenBlobAsync(image, blob, CancellationToken.None);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    [Fact]
    public async Task ResolvesAMultiPlatformImageAfterFailingMirrorsAndStreamsItsBlobs()
    {
        var amd64 = TestImage.Create("amd64");
        var arm64 = TestImage.Create("arm64", "v8");
        var index = TestImage.IndexOf((amd64, "linux/amd64"), (arm64, "linux/arm64/v8"));
        await registries.Upstream.PushAsync("team/multi", amd64);
        await registries.Upstream.PushAsync("team/multi", arm64);
        await registries.Upstream.PushManifestAsync("team/multi", "v1", index, TestImage.OciIndexType);
        using var client = new RegistryClient(HostsWithMirrors(), Options);
        var reference = ImageReference.Parse($"{registries.Upstream.Domain}/team/multi:v1");

        var image = await client.ResolveAsync(reference, null, CancellationToken.None);

        Assert.Equal(registries.Upstream.Url, image.Source); // plain HTTP, after HTTPS failed on this loopback host
        Assert.Equal(TestImage.DigestOf(index), image.RepoDigest);
        Assert.Equal(amd64.ManifestDigest, image.ManifestDigest);
        Assert.Equal(amd64.Manifest, image.ManifestBytes);
        Assert.Equal(TestImage.OciManifestType, image.ManifestMediaType);
        Assert.Equal(amd64.Config, await client.GetBlobBytesAsync(image, image.Config, 1024 * 1024, CancellationToken.None));
        Assert.Equal(amd64.Layer, await ReadBlobAsync(client, image, Assert.Single(image.Layers)));
        Assert.Contains("\"GET /v2/team/multi/manifests/v1 HTTP/1.1\" 404", await WaitForLogAsync(registries.Mirror, "/v2/team/multi/manifests/v1"));

        using var armClient = new RegistryClient(HostsWithMirrors(), Options with { Platform = new Platform("linux", "arm64") });
        var armImage = await armClient.ResolveAsync(reference, null, CancellationToken.None);
        Assert.Equal(arm64.ManifestDigest, armImage.ManifestDigest);
        Assert.Equal(arm64.Layer, await ReadBlobAsync(armClient, armImage, Assert.Single(armImage.Layers)));
    }

    [Fact]
    public async Task PullsFromTheMirrorWhenItHasTheImage()
    {
        var image = TestImage.Create("amd64");
        await registries.Mirror.PushAsync("team/mirrored", image, "v1");
        using var client = new RegistryClient(HostsWithMirrors(), Options);

        var resolved = await client.ResolveAsync(ImageReference.Parse($"{registries.Upstream.Domain}/team/mirrored:v1"), null, CancellationToken.None);

        Assert.Equal(registries.Mirror.Url, resolved.Source);
        Assert.Equal(image.ManifestDigest, resolved.RepoDigest);
        Assert.Equal(image.Layer, await ReadBlobAsync(client, resolved, resolved.Layers[0]));
    }

    [Fact]
    public async Task ResolvesByDigestAndReportsWhatIsMissing()
    {
        var image = TestImage.Create("amd64");
        await registries.Upstream.PushAsync("team/pinned", image, "v1");
        using var client = new RegistryClient(new Dictionary<string, RegistryHostConfig>(), Options);
        var domain = registries.Upstream.Domain;

        var byDigest = await client.ResolveAsync(ImageReference.Parse($"{domain}/team/pinned@{image.ManifestDigest}"), null, CancellationToken.None);
        var byBoth = await client.ResolveAsync(ImageReference.Parse($"{domain}/team/pinned:v1@{image.ManifestDigest}"), null, CancellationToken.None);
        var missingTag = await Assert.ThrowsAsync<RegistryException>(() =>
            client.ResolveAsync(ImageReference.Parse($"{domain}/team/pinned:v2"), null, CancellationToken.None));
        var missingBlob = await Assert.ThrowsAsync<RegistryException>(() =>
            client.OpenBlobAsync(byDigest, byDigest.Layers[0] with { Digest = TestImage.DigestOf([1, 2, 3]) }, CancellationToken.None));

        Assert.Equal(image.ManifestDigest, byDigest.ManifestDigest);
        Assert.Equal(image.ManifestDigest, byBoth.RepoDigest);
        Assert.Equal("v1", byBoth.Reference.Tag);
        Assert.Equal(RegistryErrorKind.NotFound, missingTag.Reason);
        Assert.Contains("MANIFEST_UNKNOWN", missingTag.Message);
        Assert.Equal(RegistryErrorKind.NotFound, missingBlob.Reason);
        Assert.Contains("BLOB_UNKNOWN", missingBlob.Message);
    }

    private static async Task<string> WaitForLogAsync(LocalRegistry registry, string text)
    {
        for (var i = 0; i < 100 && !registry.Log.Contains(text, StringComparison.Ordinal); i++)
        {
            await Task.Delay(50);
        }
        return registry.Log;
    }
}
