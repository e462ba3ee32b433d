using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using Berth.Tests.E2e.Fixtures;

namespace Berth.Tests.E2e;

/// <summary>
/// The fixtures the e2e tests stand on, proved against the real registry: what they push is
/// what a client reads back, byte for byte and digest for digest.
/// </summary>
public sealed class FixtureTests
{
    [Theory]
    [InlineData(ManifestFormat.Oci)]
    [InlineData(ManifestFormat.Docker)]
    public async Task MultiPlatformIndexReadsBackWithMatchingDigests(ManifestFormat format)
    {
        await using var registry = await RegistryServer.StartAsync();
        using var builder = new ImageBuilder(registry);
        ImagePlatform[] platforms = [ImagePlatform.LinuxAmd64, ImagePlatform.LinuxArm64, ImagePlatform.LinuxArmV7];
        LayerCompression[] compressions = format == ManifestFormat.Oci
            ? [LayerCompression.Gzip, LayerCompression.Zstd, LayerCompression.None]
            : [LayerCompression.Gzip, LayerCompression.None, LayerCompression.Gzip];
        var images = platforms.Zip(compressions, (platform, compression) => new ImageSpec
        {
            Platform = platform,
            Layers =
            [
                LayerBuilder.Busybox(),
                new LayerBuilder { Compression = compression }.File("etc/platform", platform.ToString()),
            ],
            Config = new ExecutionConfig { Cmd = ["sh"], Labels = new Dictionary<string, string> { ["platform"] = platform.ToString() } },
        }).ToList();

        var pushed = await builder.PushIndexAsync("multi/arch", "v1", images, format);

        var (indexType, index) = await builder.Client.GetManifestAsync("multi/arch", "v1");
        Assert.Equal(format == ManifestFormat.Oci ? MediaTypes.OciIndex : MediaTypes.DockerManifestList, indexType);
        Assert.Equal(pushed.IndexDigest, Digests.Sha256(index));
        var entries = JsonDocument.Parse(index).RootElement.GetProperty("manifests").EnumerateArray().ToList();
        Assert.Equal(pushed.Manifests.Select(m => m.Digest), entries.Select(e => e.GetProperty("digest").GetString()));
        Assert.Equal(platforms, entries.Select(e => PlatformOf(e.GetProperty("platform"))));

        foreach (var (manifest, compression) in pushed.Manifests.Zip(compressions))
        {
            await AssertManifestReadsBackAsync(builder.Client, "multi/arch", manifest, format == ManifestFormat.Oci ? MediaTypes.OciManifest : MediaTypes.DockerManifest);
            var config = JsonDocument.Parse(await builder.Client.GetBlobAsync("multi/arch", manifest.ConfigDigest)).RootElement;
            Assert.Equal(manifest.Platform, PlatformOf(config));
            Assert.Equal(manifest.Platform.ToString(), config.GetProperty("config").GetProperty("Labels").GetProperty("platform").GetString());
            var top = ReadTar(await builder.Client.GetBlobAsync("multi/arch", manifest.LayerDigests[1]), compression);
            Assert.Equal(manifest.Platform.ToString(), Encoding.UTF8.GetString(top.Single().Content));
        }

        Assert.Equal(ImagePlatform.Host.Architecture, pushed.HostManifest.Platform.Architecture);
    }

    [Fact]
    public async Task DockerSchema2ImageReadsBackWithDockerMediaTypes()
    {
        await using var registry = await RegistryServer.StartAsync();
        using var builder = new ImageBuilder(registry);
        var image = new ImageSpec
        {
            Layers = [LayerBuilder.Busybox()],
            Config = new ExecutionConfig
            {
                Entrypoint = ["/bin/sh", "-c"],
                Cmd = ["echo hi"],
                WorkingDir = "/tmp",
                User = "nobody",
                StopSignal = "SIGINT",
                ExposedPorts = ["80/tcp"],
            },
            History = [new HistoryEntry("ADD busybox /"), new HistoryEntry("CMD echo hi", EmptyLayer: true)],
        };

        var pushed = await builder.PushAsync("docker/busybox", "latest", image, ManifestFormat.Docker);

        Assert.Null(pushed.IndexDigest);
        Assert.Equal($"{registry.Host}/docker/busybox:latest", pushed.Reference);
        var manifest = await AssertManifestReadsBackAsync(builder.Client, "docker/busybox", pushed.HostManifest, MediaTypes.DockerManifest, "latest");
        Assert.Equal(MediaTypes.DockerConfig, manifest.GetProperty("config").GetProperty("mediaType").GetString());
        Assert.Equal(MediaTypes.DockerLayerGzip, manifest.GetProperty("layers")[0].GetProperty("mediaType").GetString());

        var config = JsonDocument.Parse(await builder.Client.GetBlobAsync("docker/busybox", pushed.ConfigDigest)).RootElement;
        Assert.Equal("nobody", config.GetProperty("config").GetProperty("User").GetString());
        Assert.Equal("SIGINT", config.GetProperty("config").GetProperty("StopSignal").GetString());
        Assert.True(config.GetProperty("config").GetProperty("ExposedPorts").TryGetProperty("80/tcp", out _));
        Assert.Equal(2, config.GetProperty("history").GetArrayLength());

        var entries = ReadTar(await builder.Client.GetBlobAsync("docker/busybox", pushed.LayerDigests[0]), LayerCompression.Gzip);
        var sh = entries.Single(e => e.Name == "bin/sh");
        Assert.Equal((TarEntryType.HardLink, "bin/busybox"), (sh.Type, sh.LinkName));
        Assert.Equal(new FileInfo("/bin/busybox").Length, entries.Single(e => e.Name == "bin/busybox").Content.Length);
    }

    [Fact]
    public async Task TlsRegistryWithBasicAuthRefusesAnonymousAndAcceptsCredentials()
    {
        await using var registry = await RegistryServer.StartAsync(new RegistryOptions
        {
            Tls = true,
            Credentials = new RegistryCredentials("berth", "s3cret pass"),
        });
        Assert.Equal("https", registry.BaseUri.Scheme);
        Assert.True(File.Exists(registry.CaCertificatePath));

        using (var anonymous = registry.CreateClient(authenticated: false))
        {
            using var refused = await anonymous.GetAsync("/v2/");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("Basic", refused.Headers.WwwAuthenticate.ToString());
        }

        using (var untrusting = new HttpClient())
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetAsync(registry.BaseUri));
        }

        using var builder = new ImageBuilder(registry);
        var pushed = await builder.PushAsync("secure/busybox", "1", new ImageSpec { Layers = [LayerBuilder.Busybox()] });
        await AssertManifestReadsBackAsync(builder.Client, "secure/busybox", pushed.HostManifest, MediaTypes.OciManifest, "1");
    }

    [Fact]
    public async Task RequestCounterCountsBlobGets()
    {
        await using var registry = await RegistryServer.StartAsync();
        using var builder = new ImageBuilder(registry);
        var pushed = await builder.PushAsync("counted", "latest", new ImageSpec { Layers = [LayerBuilder.Busybox()] });
        var layer = pushed.LayerDigests[0];
        Assert.Equal(0, await registry.CountRequestsAsync("GET", $"/blobs/{layer}"));
        Assert.Equal(1, await registry.CountRequestsAsync("HEAD", $"/blobs/{layer}"));

        await Task.WhenAll(builder.Client.GetBlobAsync("counted", layer), builder.Client.GetBlobAsync("counted", layer));
        await builder.Client.BlobExistsAsync("counted", layer);

        Assert.Equal(2, await registry.CountRequestsAsync("GET", $"/blobs/{layer}"));
        Assert.Equal(2, await registry.CountRequestsAsync("HEAD", $"/blobs/{layer}"));
        Assert.Equal(0, await registry.CountRequestsAsync("GET", $"/blobs/{pushed.ConfigDigest}"));
    }

    [Fact]
    public void LayerBuilderWritesEveryKindOfEntryAndHostileNamesVerbatim()
    {
        var layer = new LayerBuilder { Compression = LayerCompression.None }
            .Directory("/data", new EntryAttributes { Mode = LayerBuilder.Octal("1777"), Uid = 1000, Gid = 1001 })
            .File("data/suid", "x", new EntryAttributes { Mode = LayerBuilder.Octal("4755"), Modified = new DateTimeOffset(2020, 2, 3, 4, 5, 6, TimeSpan.Zero) })
            .File("data/tagged", "x", new EntryAttributes { Xattrs = new Dictionary<string, string> { ["user.origin"] = "berth" } })
            .Symlink("data/link", "/etc/passwd")
            .HardLink("data/hard", "/data/suid")
            .CharacterDevice("dev/null", 1, 3)
            .BlockDevice("dev/loop0", 7, 0)
            .Fifo("data/pipe")
            .Whiteout("etc/gone")
            .OpaqueDirectory("var/cache")
            .Raw(TarEntryType.RegularFile, "../escape", content: [1])
            .Raw(TarEntryType.RegularFile, "/abs", content: [2])
            .Raw(TarEntryType.SymbolicLink, "evil", linkName: "/")
            .Raw(TarEntryType.RegularFile, "evil/etc/shadow", content: [3])
            .Raw(TarEntryType.HardLink, "outside", linkName: "../outside")
            .Build();

        Assert.Same(layer.Tar, layer.Blob);
        Assert.Equal(layer.Digest, layer.DiffId);
        var entries = ReadTar(layer.Blob, LayerCompression.None).ToDictionary(e => e.Name);
        Assert.Equal((TarEntryType.Directory, LayerBuilder.Octal("1777"), 1000, 1001), (entries["data"].Type, entries["data"].Mode, entries["data"].Uid, entries["data"].Gid));
        Assert.Equal(LayerBuilder.Octal("4755"), entries["data/suid"].Mode);
        Assert.Equal(new DateTimeOffset(2020, 2, 3, 4, 5, 6, TimeSpan.Zero), entries["data/suid"].Modified);
        Assert.Equal("berth", entries["data/tagged"].Xattrs["SCHILY.xattr.user.origin"]);
        Assert.Equal((TarEntryType.SymbolicLink, "/etc/passwd"), (entries["data/link"].Type, entries["data/link"].LinkName));
        Assert.Equal((TarEntryType.HardLink, "data/suid"), (entries["data/hard"].Type, entries["data/hard"].LinkName));
        Assert.Equal((TarEntryType.CharacterDevice, 1, 3), (entries["dev/null"].Type, entries["dev/null"].Major, entries["dev/null"].Minor));
        Assert.Equal((TarEntryType.BlockDevice, 7, 0), (entries["dev/loop0"].Type, entries["dev/loop0"].Major, entries["dev/loop0"].Minor));
        Assert.Equal(TarEntryType.Fifo, entries["data/pipe"].Type);
        Assert.Empty(entries["etc/.wh.gone"].Content);
        Assert.Empty(entries["var/cache/.wh..wh..opq"].Content);
        Assert.Equal([1], entries["../escape"].Content);
        Assert.Equal([2], entries["/abs"].Content);
        Assert.Equal("/", entries["evil"].LinkName);
        Assert.Equal([3], entries["evil/etc/shadow"].Content);
        Assert.Equal("../outside", entries["outside"].LinkName);
    }

    [Fact]
    public void LayersAreReproducibleAndDiffIdsNameTheUncompressedTar()
    {
        var gzip = LayerBuilder.Busybox(LayerCompression.Gzip).Build();
        var zstd = LayerBuilder.Busybox(LayerCompression.Zstd).Build();

        Assert.Equal(gzip.Digest, LayerBuilder.Busybox(LayerCompression.Gzip).Build().Digest);
        Assert.Equal(gzip.DiffId, zstd.DiffId);
        Assert.NotEqual(gzip.Digest, zstd.Digest);
        Assert.Equal(gzip.DiffId, Digests.Sha256(Decompress(zstd.Blob, LayerCompression.Zstd)));
    }

    /// <summary>GETs the manifest by its digest (and by tag when given): same bytes, right type, and every blob it lists matches its digest.</summary>
    private static async Task<JsonElement> AssertManifestReadsBackAsync(
        RegistryClient client, string repository, PushedManifest pushed, string mediaType, string? tag = null)
    {
        foreach (var reference in tag is null ? [pushed.Digest] : new[] { pushed.Digest, tag })
        {
            var (type, content) = await client.GetManifestAsync(repository, reference);
            Assert.Equal(mediaType, type);
            Assert.Equal(pushed.Digest, Digests.Sha256(content));
        }

        var manifest = JsonDocument.Parse((await client.GetManifestAsync(repository, pushed.Digest)).Content).RootElement;
        Assert.Equal(pushed.ConfigDigest, manifest.GetProperty("config").GetProperty("digest").GetString());
        Assert.Equal(pushed.ConfigDigest, Digests.Sha256(await client.GetBlobAsync(repository, pushed.ConfigDigest)));
        var config = JsonDocument.Parse(await client.GetBlobAsync(repository, pushed.ConfigDigest)).RootElement;
        Assert.Equal(pushed.DiffIds, config.GetProperty("rootfs").GetProperty("diff_ids").EnumerateArray().Select(d => d.GetString()));

        var layers = manifest.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(pushed.LayerDigests, layers.Select(l => l.GetProperty("digest").GetString()));
        foreach (var (layer, diffId) in layers.Zip(pushed.DiffIds))
        {
            var blob = await client.GetBlobAsync(repository, layer.GetProperty("digest").GetString()!);
            Assert.Equal(layer.GetProperty("digest").GetString(), Digests.Sha256(blob));
            Assert.Equal(layer.GetProperty("size").GetInt64(), blob.Length);
            Assert.Equal(diffId, Digests.Sha256(Decompress(blob, CompressionOf(layer.GetProperty("mediaType").GetString()!))));
        }

        return manifest;
    }

    private static LayerCompression CompressionOf(string mediaType) =>
        mediaType.EndsWith("gzip", StringComparison.Ordinal) ? LayerCompression.Gzip
        : mediaType.EndsWith("zstd", StringComparison.Ordinal) ? LayerCompression.Zstd
        : LayerCompression.None;

    private static byte[] Decompress(byte[] blob, LayerCompression compression)
    {
        switch (compression)
        {
            case LayerCompression.Gzip:
                using (var gzip = new GZipStream(new MemoryStream(blob), CompressionMode.Decompress))
                using (var output = new MemoryStream())
                {
                    gzip.CopyTo(output);
                    return output.ToArray();
                }

            case LayerCompression.Zstd:
                using (var zstd = new ZstdSharp.Decompressor())
                {
                    return zstd.Unwrap(blob).ToArray();
                }

            default:
                return blob;
        }
    }

    /// <summary>The platform fields of an index entry or an image config.</summary>
    private static ImagePlatform PlatformOf(JsonElement json) =>
        json.Deserialize<ImagePlatform>(JsonSerializerOptions.Web) ?? throw new InvalidDataException("no platform");

    private sealed record ReadEntry(
        string Name, TarEntryType Type, string LinkName, UnixFileMode Mode, int Uid, int Gid, DateTimeOffset Modified,
        int Major, int Minor, IReadOnlyDictionary<string, string> Xattrs, byte[] Content);

    private static List<ReadEntry> ReadTar(byte[] blob, LayerCompression compression)
    {
        var entries = new List<ReadEntry>();
        using var reader = new TarReader(new MemoryStream(Decompress(blob, compression)));
        while (reader.GetNextEntry(copyData: true) is { } entry)
        {
            var content = new MemoryStream();
            entry.DataStream?.CopyTo(content);
            var pax = entry as PaxTarEntry;
            entries.Add(new ReadEntry(
                entry.Name, entry.EntryType, entry.LinkName, entry.Mode, entry.Uid, entry.Gid, entry.ModificationTime,
                pax?.DeviceMajor ?? 0, pax?.DeviceMinor ?? 0,
                pax?.ExtendedAttributes ?? new Dictionary<string, string>(), content.ToArray()));
        }

        return entries;
    }
}
